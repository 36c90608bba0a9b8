//! A deployment folder on the local file system.

use std::fs;
use std::io::Read;
use std::path::Path;

use super::{Limits, SourceError};
use crate::files::SourceFile;

/// Reads every file below `root` with the default [`Limits`].
///
/// Entries whose name starts with `.` (`.git`, `.DS_Store`, `.gitkeep`) are skipped,
/// and so are symbolic links to directories (they could loop). Files come back sorted
/// by path, so loading is deterministic.
pub fn read_folder(root: &Path) -> Result<Vec<SourceFile>, SourceError> {
    read_folder_with(root, Limits::default())
}

/// Reads every file below `root`, refusing a folder that exceeds `limits`.
pub(crate) fn read_folder_with(
    root: &Path,
    limits: Limits,
) -> Result<Vec<SourceFile>, SourceError> {
    if !root.is_dir() {
        return Err(SourceError::NotADirectory {
            path: root.display().to_string(),
        });
    }
    let mut walker = Walker {
        limits,
        files: Vec::new(),
        total: 0,
    };
    walker.walk(root, "", 0)?;
    let mut files = walker.files;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

struct Walker {
    limits: Limits,
    files: Vec<SourceFile>,
    total: u64,
}

fn io_error(path: &Path, source: std::io::Error) -> SourceError {
    SourceError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Walker {
    fn walk(&mut self, dir: &Path, prefix: &str, depth: usize) -> Result<(), SourceError> {
        if depth > self.limits.max_depth {
            return Err(SourceError::TooDeep {
                path: prefix.trim_end_matches('/').to_owned(),
                limit: self.limits.max_depth,
            });
        }
        let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let relative = format!("{prefix}{name}");
            let file_type = entry.file_type().map_err(|e| io_error(&path, e))?;
            let is_dir = if file_type.is_symlink() {
                // Follow links to files; never links to directories (loops).
                match fs::metadata(&path) {
                    Ok(meta) if meta.is_dir() => continue,
                    Ok(_) => false,
                    Err(e) => return Err(io_error(&path, e)),
                }
            } else {
                file_type.is_dir()
            };
            if is_dir {
                self.walk(&path, &format!("{relative}/"), depth + 1)?;
                continue;
            }
            self.read_file(&path, relative)?;
        }
        Ok(())
    }

    fn read_file(&mut self, path: &Path, relative: String) -> Result<(), SourceError> {
        if self.files.len() >= self.limits.max_files {
            return Err(SourceError::TooManyFiles {
                limit: self.limits.max_files,
            });
        }
        let file = fs::File::open(path).map_err(|e| io_error(path, e))?;
        let size = file.metadata().map_err(|e| io_error(path, e))?.len();
        let too_large = |size| SourceError::FileTooLarge {
            path: relative.clone(),
            size,
            limit: self.limits.max_file_bytes,
        };
        if size > self.limits.max_file_bytes {
            return Err(too_large(size));
        }
        // Read at most one byte more than the limit: the file may grow while we read.
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(self.limits.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(path, e))?;
        let read = bytes.len() as u64;
        if read > self.limits.max_file_bytes {
            return Err(too_large(read));
        }
        self.total += read;
        if self.total > self.limits.max_total_bytes {
            return Err(SourceError::TooLarge {
                limit: self.limits.max_total_bytes,
            });
        }
        self.files.push(SourceFile::new(relative, bytes));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_files_with_slash_paths_sorted_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("ca/root")).unwrap();
        fs::create_dir_all(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join("ca/root/b.pem"), b"b").unwrap();
        fs::write(dir.path().join("ca/root/a.pem"), b"a").unwrap();
        fs::write(dir.path().join(".git/HEAD"), b"x").unwrap();
        fs::write(dir.path().join("ca/root/.gitkeep"), b"").unwrap();
        fs::write(dir.path().join("gateway.toml"), b"t").unwrap();
        let files = read_folder(dir.path()).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["ca/root/a.pem", "ca/root/b.pem", "gateway.toml"]);
        assert_eq!(files[0].bytes, &b"a"[..]);
    }

    #[test]
    fn refuses_too_many_files_and_too_large_files() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3 {
            fs::write(dir.path().join(format!("{i}.pem")), vec![0u8; 10]).unwrap();
        }
        let limits = Limits {
            max_files: 2,
            ..Limits::default()
        };
        assert!(matches!(
            read_folder_with(dir.path(), limits),
            Err(SourceError::TooManyFiles { limit: 2 })
        ));
        let limits = Limits {
            max_file_bytes: 5,
            ..Limits::default()
        };
        let err = read_folder_with(dir.path(), limits).unwrap_err();
        assert!(matches!(err, SourceError::FileTooLarge { size: 10, .. }));
        assert!(err.to_string().contains("0.pem is 10 bytes"), "{err}");
        let limits = Limits {
            max_total_bytes: 25,
            ..Limits::default()
        };
        assert!(matches!(
            read_folder_with(dir.path(), limits),
            Err(SourceError::TooLarge { limit: 25 })
        ));
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        let err = read_folder(Path::new("/nonexistent/certgate")).unwrap_err();
        assert!(matches!(err, SourceError::NotADirectory { .. }));
    }
}
