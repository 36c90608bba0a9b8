//! The mutable collections of .NET: arrays and `List<T>` ([`Seq`]) and
//! `Dictionary<TKey, TValue>` ([`Map`]). Both are reference types in C#: a copy of the
//! value is the same object, so `var b = a; b[0] = x;` changes `a[0]` too. The lock is
//! held only inside these methods, never while an expression runs (a lambda may read the
//! collection it is iterating).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::value::Value;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // nothing panics while a lock is held; a poisoned lock still holds consistent data
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A `T[]` or a `List<T>`: the same run-time value, the checker tells them apart (only a
/// list grows).
#[derive(Clone, Debug, Default)]
pub struct Seq(Arc<Mutex<Vec<Value>>>);

impl Seq {
    pub fn len(&self) -> usize {
        lock(&self.0).len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn get(&self, i: usize) -> Option<Value> {
        lock(&self.0).get(i).cloned()
    }
    /// Replaces element `i`; false when `i` is out of range.
    pub(crate) fn set(&self, i: usize, v: Value) -> bool {
        match lock(&self.0).get_mut(i) {
            Some(slot) => {
                *slot = v;
                true
            }
            None => false,
        }
    }
    pub(crate) fn push(&self, v: Value) {
        lock(&self.0).push(v);
    }
    pub(crate) fn insert(&self, i: usize, v: Value) -> bool {
        let mut items = lock(&self.0);
        if i > items.len() {
            return false;
        }
        items.insert(i, v);
        true
    }
    pub(crate) fn remove_at(&self, i: usize) -> Option<Value> {
        let mut items = lock(&self.0);
        (i < items.len()).then(|| items.remove(i))
    }
    pub(crate) fn clear(&self) {
        lock(&self.0).clear();
    }
    /// Puts `items` in place of the elements (`Sort`, `Reverse`: the same object).
    pub(crate) fn replace(&self, items: Vec<Value>) {
        *lock(&self.0) = items;
    }
    /// A copy of the elements (an evaluation charges their count first).
    pub fn to_vec(&self) -> Vec<Value> {
        lock(&self.0).clone()
    }
    /// Whether both are the same object (`==` on references).
    pub(crate) fn same(&self, other: &Seq) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl From<Vec<Value>> for Seq {
    fn from(v: Vec<Value>) -> Self {
        Seq(Arc::new(Mutex::new(v)))
    }
}

impl FromIterator<Value> for Seq {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        Seq::from(iter.into_iter().collect::<Vec<_>>())
    }
}

/// A dictionary key: the key types the checker allows (`string`, integers, `char`,
/// `bool`). With `StringComparer.OrdinalIgnoreCase` string keys are folded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Str(Arc<str>),
    Int(i64),
    Char(char),
    Bool(bool),
}

/// A `Dictionary<TKey, TValue>` laid out as .NET's: entries in insertion order, a removed
/// entry's place reused by the next insertion (most recently freed first), which is the
/// order `foreach` sees.
#[derive(Debug, Default)]
pub(crate) struct MapData {
    entries: Vec<Option<(Value, Value)>>,
    free: Vec<usize>,
    index: HashMap<Key, usize>,
    ignore_case: bool,
}

#[derive(Clone, Debug)]
pub struct Map(Arc<Mutex<MapData>>);

/// What `Map::insert` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inserted {
    New,
    Replaced,
    /// `Add` of a key that is there: nothing changed.
    Duplicate,
}

impl Map {
    pub(crate) fn new(ignore_case: bool) -> Map {
        Map(Arc::new(Mutex::new(MapData {
            ignore_case,
            ..MapData::default()
        })))
    }

    /// The key of `v`; None for null and for types that are no keys.
    pub(crate) fn key(&self, v: &Value) -> Option<Key> {
        let ignore_case = lock(&self.0).ignore_case;
        Some(match v {
            Value::String(s) if ignore_case => Key::Str(Arc::from(s.to_uppercase())),
            Value::String(s) => Key::Str(s.clone()),
            Value::Int(n) => Key::Int(i64::from(*n)),
            Value::Long(n) => Key::Int(*n),
            Value::Char(c) => Key::Char(*c),
            Value::Bool(b) => Key::Bool(*b),
            _ => return None,
        })
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.0).index.len()
    }

    pub(crate) fn get(&self, k: &Key) -> Option<Value> {
        let m = lock(&self.0);
        let i = *m.index.get(k)?;
        m.entries.get(i)?.as_ref().map(|(_, v)| v.clone())
    }

    pub(crate) fn contains(&self, k: &Key) -> bool {
        lock(&self.0).index.contains_key(k)
    }

    /// Sets `key` to `value`; with `add`, a key that is there is left alone.
    pub(crate) fn insert(&self, k: Key, key: Value, value: Value, add: bool) -> Inserted {
        let mut m = lock(&self.0);
        if let Some(&i) = m.index.get(&k) {
            if add {
                return Inserted::Duplicate;
            }
            if let Some(Some(e)) = m.entries.get_mut(i) {
                e.1 = value;
            }
            return Inserted::Replaced;
        }
        let i = match m.free.pop() {
            Some(i) => {
                m.entries[i] = Some((key, value));
                i
            }
            None => {
                m.entries.push(Some((key, value)));
                m.entries.len() - 1
            }
        };
        m.index.insert(k, i);
        Inserted::New
    }

    pub(crate) fn remove(&self, k: &Key) -> bool {
        let mut m = lock(&self.0);
        let Some(i) = m.index.remove(k) else {
            return false;
        };
        m.entries[i] = None;
        m.free.push(i);
        true
    }

    pub(crate) fn clear(&self) {
        let mut m = lock(&self.0);
        m.entries.clear();
        m.free.clear();
        m.index.clear();
    }

    /// The entry at position `i` of the entry table (None for a free place), and whether
    /// there is such a position: iteration walks the table without holding the lock.
    pub(crate) fn entry_at(&self, i: usize) -> Option<Option<(Value, Value)>> {
        lock(&self.0).entries.get(i).cloned()
    }

    pub(crate) fn same(&self, other: &Map) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
