//! `new Random(seed)`: .NET's seeded generator, Knuth's subtractive method as .NET keeps
//! it for seeded instances (`Net5CompatSeedImpl` / `CompatPrng` in dotnet/runtime's
//! `Random.Net5CompatImpl.cs`), so a seed gives the numbers it gives on APIM.

const MBIG: i32 = i32::MAX;
const MSEED: i32 = 161_803_398;

#[derive(Debug, Clone)]
pub(crate) struct Seeded {
    seeds: [i32; 56],
    inext: usize,
    inextp: usize,
}

impl Seeded {
    pub(crate) fn new(seed: i32) -> Seeded {
        let mut seeds = [0i32; 56];
        let subtraction = if seed == i32::MIN {
            i32::MAX
        } else {
            seed.abs()
        };
        let mut mj = MSEED - subtraction;
        seeds[55] = mj;
        let mut mk = 1i32;
        for i in 1..55 {
            let ii = (21 * i) % 55;
            seeds[ii] = mk;
            mk = mj.wrapping_sub(mk);
            if mk < 0 {
                mk = mk.wrapping_add(MBIG);
            }
            mj = seeds[ii];
        }
        for _ in 1..5 {
            for i in 1..56 {
                seeds[i] = seeds[i].wrapping_sub(seeds[1 + (i + 30) % 55]);
                if seeds[i] < 0 {
                    seeds[i] = seeds[i].wrapping_add(MBIG);
                }
            }
        }
        Seeded {
            seeds,
            inext: 0,
            inextp: 21,
        }
    }

    /// `InternalSample`: 0 ..= int.MaxValue - 1.
    fn sample_int(&mut self) -> i32 {
        self.inext = if self.inext + 1 >= 56 {
            1
        } else {
            self.inext + 1
        };
        self.inextp = if self.inextp + 1 >= 56 {
            1
        } else {
            self.inextp + 1
        };
        let mut r = self.seeds[self.inext].wrapping_sub(self.seeds[self.inextp]);
        if r == MBIG {
            r -= 1;
        }
        if r < 0 {
            r = r.wrapping_add(MBIG);
        }
        self.seeds[self.inext] = r;
        r
    }

    /// `NextDouble()`: [0, 1).
    pub(crate) fn next_double(&mut self) -> f64 {
        f64::from(self.sample_int()) * (1.0 / f64::from(MBIG))
    }

    /// `Next()`, `Next(max)` (`lo` 0) and `Next(lo, hi)`, `hi >= lo` checked by the caller.
    pub(crate) fn next(&mut self, range: Option<(i64, i64)>) -> i32 {
        let Some((lo, hi)) = range else {
            return self.sample_int();
        };
        let span = hi - lo;
        if span <= i64::from(i32::MAX) {
            return ((self.next_double() * span as f64) as i64 + lo) as i32;
        }
        // `GetSampleForLargeRange`
        let mut r = self.sample_int();
        if self.sample_int() % 2 == 0 {
            r = -r;
        }
        let d = (f64::from(r) + (f64::from(i32::MAX) - 1.0)) / (2.0 * f64::from(i32::MAX) - 1.0);
        ((d * span as f64) as i64 + lo) as i32
    }
}
