//! A throwaway PostgreSQL cluster for tests and the fleet chaos run.
//!
//! [`PgCluster::start`] runs `initdb` into a fresh temporary directory (as
//! the unprivileged `postgres` user via `runuser` when running as root, since
//! PostgreSQL refuses to run as root), then `pg_ctl start` with
//! `listen_addresses=''`: the server listens only on a Unix socket inside
//! that directory — no port to collide on, nothing reachable from outside.
//! Durability is switched off (`fsync=off`): the data is thrown away.
//!
//! Cleanup: dropping the cluster stops the server and removes the
//! directory. Because a test binary's `static` is never dropped, `start`
//! also spawns a tiny reaper shell that waits for the starting process to
//! exit (however it exits) and then does the same.
//!
//! A missing PostgreSQL is an error that says what to install — tests that
//! need the cluster fail with it; they never skip.
//!
//! Shared by the test binaries (`#[path]`-included) and by
//! `cargo xtask chaos --fleet`; synchronous on purpose (std::process only).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A running throwaway cluster.
#[derive(Debug)]
pub struct PgCluster {
    root: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
}

const PORT: u16 = 5432;

/// Where the PostgreSQL server binaries are: `$PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`, else the directory of `initdb` on PATH.
pub fn find_bin() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
                return Ok(dir);
            }
        }
    }
    Err("PostgreSQL server binaries not found (no initdb under /usr/lib/postgresql/*/bin, in $PG_BIN or on PATH): \
         install them with `apt-get update && apt-get install -y postgresql` (what .ci/run does)"
        .to_owned())
}

fn is_root() -> bool {
    // `id -u` keeps this free of unsafe and of extra crates.
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn describe(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if text.is_empty() {
        text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    }
    text.chars().take(2_000).collect()
}

impl PgCluster {
    /// Initializes and starts a cluster in a new temporary directory.
    ///
    /// # Errors
    /// A message naming what is missing or what failed (with PostgreSQL's own words).
    pub fn start() -> Result<PgCluster, String> {
        let bin = find_bin()?;
        let as_postgres = is_root();
        if as_postgres
            && !Command::new("id")
                .arg("postgres")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        {
            return Err("running as root, but there is no `postgres` user to run the test cluster as: \
                        install the `postgresql` package (it creates the user) or run the tests as a normal user"
                .to_owned());
        }
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "occ-pg-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).map_err(|e| {
            format!(
                "cannot create the test cluster directory {}: {e}",
                root.display()
            )
        })?;
        let cluster = PgCluster {
            root,
            bin,
            as_postgres,
            port: PORT,
        };
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.root)
                .status()
                .map_err(|e| format!("cannot run chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown postgres {} failed", cluster.root.display()));
            }
        }
        cluster.spawn_reaper();
        let data = cluster.data_dir();
        let out = cluster
            .pg_command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .map_err(|e| format!("cannot run initdb ({}): {e}", cluster.bin.display()))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", describe(&out)));
        }
        cluster.start_server()?;
        Ok(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The directory holding the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    fn pg_command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Kills the server and removes the directory once the current process is gone.
    fn spawn_reaper(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {stop} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{root}'",
            pid = std::process::id(),
            stop = if self.as_postgres {
                format!(
                    "runuser -u postgres -- '{}'",
                    self.bin.join("pg_ctl").display()
                )
            } else {
                format!("'{}'", self.bin.join("pg_ctl").display())
            },
            data = self.data_dir().display(),
            root = self.root.display(),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// Starts the server (again, after [`PgCluster::stop`]).
    ///
    /// # Errors
    /// PostgreSQL's message.
    pub fn start_server(&self) -> Result<(), String> {
        let options = format!(
            "-k {} -c listen_addresses='' -p {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.root.display(),
            self.port
        );
        let out = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-o", &options, "-l"])
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "30", "start"])
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
            return Err(format!(
                "pg_ctl start failed: {}; server log: {}",
                describe(&out),
                log.chars()
                    .rev()
                    .take(1_500)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>()
            ));
        }
        Ok(())
    }

    /// Stops the server (`fast`: clients are disconnected, like a restart in production).
    ///
    /// # Errors
    /// PostgreSQL's message.
    pub fn stop(&self) -> Result<(), String> {
        let out = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            return Err(format!("pg_ctl stop failed: {}", describe(&out)));
        }
        Ok(())
    }

    /// Stops and starts the server.
    ///
    /// # Errors
    /// PostgreSQL's message.
    pub fn restart(&self) -> Result<(), String> {
        self.stop()?;
        self.start_server()
    }

    /// Runs one SQL command as the superuser in database `postgres`.
    ///
    /// # Errors
    /// psql's message.
    pub fn sql(&self, command: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(&self.root)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-At", "-c", command])
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(format!("psql failed: {}", describe(&out)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// A URL for database `postgres` with `search_path` set to `schema`
    /// (created here): separate schemas keep tests apart in one cluster.
    ///
    /// # Errors
    /// psql's message.
    pub fn schema_url(&self, schema: &str) -> Result<String, String> {
        self.sql(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
        Ok(format!(
            "postgres://postgres@/postgres?host={}&port={}&options=-csearch_path%3D{schema}",
            self.root.display(),
            self.port
        ))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One cluster per test binary, started on first use; a failure to start
/// fails every test that asks, with the reason.
pub fn shared() -> &'static PgCluster {
    static CLUSTER: std::sync::OnceLock<Result<PgCluster, String>> = std::sync::OnceLock::new();
    match CLUSTER.get_or_init(PgCluster::start) {
        Ok(cluster) => cluster,
        Err(e) => panic!("cannot start the PostgreSQL test cluster: {e}"),
    }
}
