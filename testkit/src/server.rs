//! The test server: its settings from the libpq variables, sessions (with retry), and fresh
//! databases with `CREATE EXTENSION pg_nodesync`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

/// What to do when a libpq variable is missing.
const HOW: &str = "the tests need a running server with pg_nodesync installed: start one with \
                   `scripts/cluster.sh start` and run `eval \"$(scripts/cluster.sh env)\"` (it sets \
                   PGHOST, PGPORT and PGUSER); scripts/test.sh, scripts/reliability.sh and \
                   scripts/bench.sh do this themselves";

/// Where the tests connect: host (or socket directory), port, user, password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: String,
    pub user: String,
    pub password: Option<String>,
    /// `connect_timeout` in seconds, if any.
    pub connect_timeout: Option<u32>,
}

/// Environment variable `name`, or an error saying it is unset and how to set it.
pub fn env_var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set: {HOW}"))
}

impl Server {
    /// From PGHOST, PGPORT and PGUSER (and PGPASSWORD if set); the error names the first
    /// variable that is missing and `scripts/cluster.sh env`.
    pub fn from_env() -> Result<Server, String> {
        Server::from_env_or_user(None)
    }

    /// Like [`Server::from_env`], with `user` where PGUSER is not set (if `user` is given).
    pub fn from_env_or_user(user: Option<&str>) -> Result<Server, String> {
        let host = env_var("PGHOST")?;
        let port = env_var("PGPORT")?;
        let user = match (env_var("PGUSER"), user) {
            (Ok(u), _) => u,
            (Err(_), Some(u)) => u.to_string(),
            (Err(e), None) => return Err(e),
        };
        Ok(Server { host, port, user, password: std::env::var("PGPASSWORD").ok(), connect_timeout: None })
    }

    /// The libpq connection string of database `dbname`, sessions named `app`.
    pub fn conninfo(&self, dbname: &str, app: &str) -> String {
        let mut s = format!(
            "host={} port={} user={} dbname={} application_name={}",
            quote(&self.host),
            quote(&self.port),
            quote(&self.user),
            quote(dbname),
            quote(app)
        );
        if let Some(p) = &self.password {
            s.push_str(&format!(" password={}", quote(p)));
        }
        if let Some(t) = self.connect_timeout {
            s.push_str(&format!(" connect_timeout={t}"));
        }
        s
    }

    /// The same server as another user (no password: test roles log in by trust).
    pub fn as_user(&self, user: &str) -> Server {
        Server { user: user.to_string(), password: None, ..self.clone() }
    }

    /// A session on `dbname`, or the connection error.
    pub fn try_connect(&self, dbname: &str, app: &str) -> Result<Client, postgres::Error> {
        Client::connect(&self.conninfo(dbname, app), NoTls)
    }

    /// A session on `dbname`; panics naming the connection string.
    #[track_caller]
    pub fn connect(&self, dbname: &str, app: &str) -> Client {
        connect(&self.conninfo(dbname, app))
    }

    /// A session on `dbname`, retrying every 150 ms until `timeout` (the server may be
    /// restarting); `None` (the last error printed to stderr) if it never answered.
    pub fn connect_retry(&self, dbname: &str, app: &str, timeout: Duration) -> Option<Client> {
        let t0 = Instant::now();
        loop {
            match self.try_connect(dbname, app) {
                Ok(c) => return Some(c),
                Err(_) if t0.elapsed() < timeout => std::thread::sleep(Duration::from_millis(150)),
                Err(e) => {
                    eprintln!("cannot connect to {dbname}: {e}");
                    return None;
                }
            }
        }
    }

    /// Database `name`, new (dropped first if it exists) with `CREATE EXTENSION pg_nodesync`,
    /// made through `admin` (a session on another database of this server); returns a
    /// session on it named `app`.
    pub fn fresh_database(&self, admin: &mut Client, name: &str, app: &str) -> Client {
        recreate_database(admin, name);
        let mut c = self.connect(name, app);
        create_extension(&mut c);
        c
    }
}

/// The server of PGHOST, PGPORT, PGUSER and PGPASSWORD, read once; panics with what to do
/// if one of the first three is not set.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::from_env().unwrap_or_else(|e| panic!("{e}")))
}

/// A value for a libpq connection string: as it is if it needs no quotes.
fn quote(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '\'', '\\']) {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// A session from a libpq connection string; panics naming it.
#[track_caller]
pub fn connect(conninfo: &str) -> Client {
    match Client::connect(conninfo, NoTls) {
        Ok(c) => c,
        Err(e) => panic!("cannot connect with {conninfo}: {e}"),
    }
}

/// Drops database `name` if it exists (`WITH (FORCE)`: sessions on it are ended) and creates
/// it empty, through `admin`, a session on another database of the server.
pub fn recreate_database(admin: &mut Client, name: &str) {
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).unwrap_or_else(|e| panic!("drop database {name}: {e}"));
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap_or_else(|e| panic!("create database {name}: {e}"));
}

/// Drops database `name` if it exists (`WITH (FORCE)`), ignoring errors.
pub fn drop_database(admin: &mut Client, name: &str) {
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
}

/// `CREATE EXTENSION pg_nodesync` in the session's database.
pub fn create_extension(c: &mut Client) {
    c.batch_execute("CREATE EXTENSION pg_nodesync").unwrap_or_else(|e| panic!("CREATE EXTENSION pg_nodesync (is it installed?): {e}"));
}

/// Drops the databases `<prefix><pid>` and `<prefix><pid>_<suffix>` whose test process is gone
/// (looked up in this machine's /proc: the server runs here). Others are left alone.
pub fn drop_leftover_databases(admin: &mut Client, prefix: &str) {
    let names: Vec<String> = admin
        .query("SELECT datname FROM pg_database WHERE datname LIKE $1", &[&format!("{prefix}%")])
        .expect("list databases")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in names {
        let pid = name[prefix.len()..].split('_').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            drop_database(admin, &name);
        }
    }
}

/// Waits (up to `timeout`) until a session from `conninfo` connects and sees the extension
/// pg_nodesync (a standby replaying the primary's `CREATE EXTENSION`); true if it did.
pub fn wait_for_extension(conninfo: &str, timeout: Duration) -> bool {
    let t0 = Instant::now();
    loop {
        if let Ok(mut s) = Client::connect(conninfo, NoTls) {
            if s.query_one("SELECT count(*) FROM pg_extension WHERE extname = 'pg_nodesync'", &[]).is_ok_and(|r| r.get::<_, i64>(0) == 1) {
                return true;
            }
        }
        if t0.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Database `name` on a primary, new (dropped first if it exists) with `CREATE EXTENSION
/// pg_nodesync`, once a hot standby of it has replayed that (up to `timeout`; panics if not).
/// `primary` and `standby` are libpq connection strings without `dbname`.
pub fn fresh_replicated_database(primary: &str, standby: &str, name: &str, timeout: Duration) {
    recreate_database(&mut connect(&format!("{primary} dbname=postgres")), name);
    create_extension(&mut connect(&format!("{primary} dbname={name}")));
    assert!(wait_for_extension(&format!("{standby} dbname={name}"), timeout), "the standby never saw the test database {name}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv() -> Server {
        Server { host: "/tmp/x".into(), port: "5432".into(), user: "postgres".into(), password: None, connect_timeout: None }
    }

    #[test]
    fn conninfo_as_before_and_quoted_where_needed() {
        assert_eq!(srv().conninfo("db_1", "app"), "host=/tmp/x port=5432 user=postgres dbname=db_1 application_name=app");
        let s = Server { password: Some("it's a pw".into()), connect_timeout: Some(10), ..srv() };
        assert_eq!(
            s.conninfo("d", "a"),
            "host=/tmp/x port=5432 user=postgres dbname=d application_name=a password='it\\'s a pw' connect_timeout=10"
        );
        let c: postgres::Config = s.conninfo("d", "a").parse().unwrap();
        assert_eq!(c.get_password(), Some(&b"it's a pw"[..]));
        assert_eq!(srv().as_user("bob").conninfo("d", "a"), "host=/tmp/x port=5432 user=bob dbname=d application_name=a");
    }
}
