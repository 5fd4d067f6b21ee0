//! The master key that seals provider secrets: `MODELGATE_MASTER_KEY` if set, else the
//! key file in the data dir, created on first start with mode 0600.

use anyhow::Context;
use modelgate_core::sealing::MasterKey;
use std::path::Path;

pub const KEY_FILE: &str = "master.key";

pub fn load(env_value: Option<&str>, data_dir: &Path) -> anyhow::Result<MasterKey> {
    if let Some(text) = env_value {
        return MasterKey::parse(text).context("MODELGATE_MASTER_KEY is not a valid master key");
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterKey::parse(&text)
            .with_context(|| format!("{} does not hold a valid master key", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (key, text) = MasterKey::generate();
            write_private(&path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = load(None, dir.path()).unwrap();
        let sealed = a.seal(b"x", "r");
        let b = load(None, dir.path()).unwrap();
        assert_eq!(b.open(&sealed, "r").unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(load(Some("nope"), dir.path()).is_err());
    }
}
