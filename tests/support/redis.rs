//! A private `redis-server` for one test: started from `PATH` on a free loopback port with no
//! persistence, waited for until it answers `PING`, and killed when the guard drops. It never
//! talks to a server it did not start.
//!
//! Without `redis-server` on `PATH`, [`RedisServer::start`] prints one skip line and returns
//! `None`, except under `CI=true`, where a missing server fails the test.
//!
//! Include it with `#[path = "support/redis.rs"] mod redis_server;`.

#![allow(dead_code)] // each test binary uses its own part of the helper

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// A running `redis-server` owned by the test; see the [module docs](self).
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    cluster: bool,
    /// Arguments after the defaults (a password, TLS files), kept for [`restart`](Self::restart).
    extra: Vec<String>,
    /// Whether the port speaks TLS only (`--tls-port`, `--port 0`).
    tls: bool,
}

impl RedisServer {
    /// A plain server, or `None` (with a skip line) when `redis-server` is not installed.
    pub fn start() -> Option<Self> {
        Self::launch(false)
    }

    /// A one-node Redis Cluster owning all 16384 slots.
    pub fn start_cluster() -> Option<Self> {
        let server = Self::launch(true)?;
        server.command("CLUSTER ADDSLOTSRANGE 0 16383");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.command("CLUSTER INFO").contains("cluster_state:ok") {
            assert!(
                Instant::now() < deadline,
                "the test cluster never became ready"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(server)
    }

    /// A Redis Cluster of three primaries (no replicas) splitting the slots between them, made
    /// with `redis-cli --cluster create`; the first node's guard comes first.
    pub fn start_three_primaries() -> Option<Vec<Self>> {
        Cluster::start(3, 0, Duration::from_secs(15)).map(|cluster| cluster.nodes)
    }

    /// A server started with `extra` arguments after the defaults, e.g.
    /// `["--requirepass", "..."]`. A server that needs a password still counts as up when it
    /// answers `PING` with `-NOAUTH`.
    pub fn start_with(extra: &[&str]) -> Option<Self> {
        Self::launch_with(false, extra.iter().map(|s| s.to_string()).collect(), false)
    }

    /// A server that speaks only TLS on its port (`--port 0 --tls-port <port>`), with the PEM
    /// files `cert`, `key` and `ca` (for client certificates, which it does not ask for).
    pub fn start_tls(
        cert: &std::path::Path,
        key: &std::path::Path,
        ca: &std::path::Path,
    ) -> Option<Self> {
        let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
        let extra = vec![
            "--tls-cert-file".into(),
            path(cert),
            "--tls-key-file".into(),
            path(key),
            "--tls-ca-cert-file".into(),
            path(ca),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        Self::launch_with(false, extra, true)
    }

    /// A one-node Redis Cluster owning all 16384 slots that speaks only TLS, on its port and its
    /// cluster bus, with the files of [`start_tls`](Self::start_tls). Set up with `redis-cli`.
    pub fn start_tls_cluster(
        cert: &std::path::Path,
        key: &std::path::Path,
        ca: &std::path::Path,
    ) -> Option<Self> {
        let mut server = Self::start_tls(cert, key, ca)?;
        server.cluster = true;
        server.extra.extend(["--tls-cluster".into(), "yes".into()]);
        server.restart();
        let cli = |args: &[&str]| {
            let out = Command::new("redis-cli")
                .args(["--tls", "--cacert"])
                .arg(ca)
                .args(["-h", "127.0.0.1", "-p", &server.port.to_string()])
                .args(args)
                .output()
                .expect("run redis-cli");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        cli(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok") {
            assert!(
                Instant::now() < deadline,
                "the test TLS cluster never became ready"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(server)
    }

    fn launch(cluster: bool) -> Option<Self> {
        Self::launch_with(cluster, Vec::new(), false)
    }

    fn launch_with(cluster: bool, extra: Vec<String>, tls: bool) -> Option<Self> {
        if !installed() {
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("memokit-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the server's scratch directory");
        let mut server = Self {
            child: None,
            port,
            dir,
            cluster,
            extra,
            tls,
        };
        server.restart();
        Some(server)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// Stops the server's process (`SIGSTOP`) until the guard drops (`SIGCONT`): it keeps its
    /// sockets, and the kernel keeps accepting connections, but nothing is answered. A frozen
    /// server, not a dead one.
    pub fn freeze(&self) -> Frozen {
        signal(self.pid(), "-STOP");
        Frozen { pid: self.pid() }
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (as a crash would: no shutdown, and it had no persistence to flush).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new("redis-server");
        let port = self.port.to_string();
        if self.tls {
            command.args(["--port", "0", "--tls-port", &port]);
        } else {
            command.args(["--port", &port]);
        }
        command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir);
        if self.cluster {
            let _ = std::fs::remove_file(self.dir.join("nodes.conf"));
            command.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-announce-ip",
                "127.0.0.1",
            ]);
        }
        command.args(&self.extra);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is on PATH but could not be started");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer within 10s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the server is up: it answers `PING` (or asks for a password), or, speaking TLS,
    /// accepts a connection.
    fn answers(&self) -> bool {
        if self.tls {
            return TcpStream::connect(("127.0.0.1", self.port)).is_ok();
        }
        self.try_command("PING")
            .is_some_and(|r| r.starts_with("+PONG") || r.starts_with("-NOAUTH"))
    }

    /// Sends one inline command and returns the raw reply (enough for PING, INFO, CLUSTER ...).
    pub fn command(&self, command: &str) -> String {
        self.try_command(command)
            .unwrap_or_else(|| panic!("redis-server on port {} is not answering", self.port))
    }

    fn try_command(&self, command: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut reply = Vec::new();
        let mut buf = [0; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    reply.extend_from_slice(&buf[..n]);
                    if complete(&reply) {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        Some(String::from_utf8_lossy(&reply).into_owned())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A frozen server; see [`RedisServer::freeze`].
pub struct Frozen {
    pid: u32,
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.pid, "-CONT");
    }
}

/// Sends a signal to the test's own server, by its process id.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

/// Whether a RESP reply (a simple line, or one bulk string) has fully arrived.
fn complete(reply: &[u8]) -> bool {
    let Some(line_end) = reply.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    if reply[0] != b'$' {
        return true;
    }
    let Some(len) = std::str::from_utf8(&reply[1..line_end])
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return true;
    };
    reply.len() >= line_end + 2 + len + 2
}

fn installed() -> bool {
    tool_installed("redis-server")
}

/// Whether `tool` (`redis-server`, `redis-cli`) runs; under `CI=true`, a panic if it does not.
fn tool_installed(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {tool} is not on PATH: install it (apt-get install redis-server)");
        }
        static SKIP: Once = Once::new();
        SKIP.call_once(|| {
            eprintln!(
                "SKIPPED Redis tests: {tool} is not on PATH (install it, e.g. `apt-get install redis-server`; under CI=true they fail instead)"
            );
        });
    }
    found
}

/// A port nothing listens on right now: bind port 0, note the port, release it.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// A Redis Cluster of this test's own servers, made with `redis-cli --cluster create`: every node
/// a [`RedisServer`] (stopped by its process id when the cluster drops), the first `masters` of
/// them primaries at creation and the rest their replicas.
pub struct Cluster {
    pub nodes: Vec<RedisServer>,
}

impl Cluster {
    /// `masters` primaries with `replicas` replicas each, whose nodes take a peer that does not
    /// answer for `node_timeout` as failed (and its replica then takes over); `None` (with a
    /// skip line) when `redis-server` or `redis-cli` is missing. Returns once every node reports
    /// `cluster_state:ok` and every replica is in sync with its primary.
    pub fn start(masters: usize, replicas: usize, node_timeout: Duration) -> Option<Self> {
        if !tool_installed("redis-cli") {
            return None;
        }
        let timeout = node_timeout.as_millis().to_string();
        let nodes = (0..masters * (1 + replicas))
            .map(|_| {
                let extra = vec!["--cluster-node-timeout".to_string(), timeout.clone()];
                RedisServer::launch_with(true, extra, false)
            })
            .collect::<Option<Vec<_>>>()?;
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(nodes.iter().map(RedisServer::address))
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = Self { nodes };
        cluster.wait_until_ready(replicas * masters);
        Some(cluster)
    }

    /// Waits until every running node reports `cluster_state:ok` and `replicas` replicas have
    /// their link to the primary up.
    pub fn wait_until_ready(&self, replicas: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let running = self.running();
            let ok = running
                .iter()
                .all(|n| n.command("CLUSTER INFO").contains("cluster_state:ok"));
            let synced = running
                .iter()
                .filter(|n| {
                    n.command("INFO replication")
                        .contains("master_link_status:up")
                })
                .count();
            if ok && synced >= replicas {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster never became ready ({synced} of {replicas} replicas in sync)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every node's URL, comma-separated: the seeds of a cluster client.
    pub fn seeds(&self) -> String {
        let urls: Vec<String> = self.nodes.iter().map(RedisServer::url).collect();
        urls.join(",")
    }

    /// The nodes still running (not [`kill`](RedisServer::kill)ed).
    pub fn running(&self) -> Vec<&RedisServer> {
        self.nodes.iter().filter(|n| n.child.is_some()).collect()
    }

    /// The running primaries, as they say now (a promoted replica is one).
    pub fn masters(&self) -> Vec<&RedisServer> {
        let role = |n: &&RedisServer| n.command("INFO replication").contains("role:master");
        self.running().into_iter().filter(role).collect()
    }

    /// The index in [`nodes`](Self::nodes) of the replica of the primary at `master`.
    pub fn replica_of(&self, master: &RedisServer) -> usize {
        // `<id> <ip:port@bus> <flags> <primary's id> ...`, one line per node.
        let id = master.node_id();
        let nodes = master.command("CLUSTER NODES");
        let replicas: Vec<&str> = nodes
            .lines()
            .map(|line| line.split(' ').collect::<Vec<_>>())
            .filter(|fields| fields.len() > 3 && fields[3] == id)
            .filter_map(|fields| fields[1].split('@').next())
            .collect();
        self.nodes
            .iter()
            .position(|n| n.child.is_some() && replicas.contains(&n.address().as_str()))
            .expect("the primary has a running replica")
    }

    /// Moves `slots` hash slots from the primary `from` to the primary `to` with
    /// `redis-cli --cluster reshard` (keys included, as an operator would), and waits for it.
    pub fn reshard(&self, from: &RedisServer, to: &RedisServer, slots: u16) {
        let out = Command::new("redis-cli")
            .args(["--cluster", "reshard", &from.address()])
            .args(["--cluster-from", &from.node_id()])
            .args(["--cluster-to", &to.node_id()])
            .args(["--cluster-slots", &slots.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster reshard");
        assert!(
            out.status.success(),
            "redis-cli --cluster reshard failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl RedisServer {
    /// `127.0.0.1:<port>`, as `redis-cli --cluster` names nodes.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// This cluster node's id (`CLUSTER MYID`).
    pub fn node_id(&self) -> String {
        let reply = self.command("CLUSTER MYID");
        reply
            .lines()
            .nth(1)
            .expect("CLUSTER MYID answers with a bulk string")
            .to_string()
    }

    /// The first and last slot of each range this primary owns, from its `CLUSTER NODES` line.
    pub fn slot_ranges(&self) -> Vec<(u16, u16)> {
        let nodes = self.command("CLUSTER NODES");
        let mine = nodes
            .lines()
            .find(|line| line.contains("myself"))
            .expect("CLUSTER NODES has a `myself` line");
        mine.split(' ')
            .skip(8)
            .filter(|range| !range.starts_with('['))
            .map(|range| match range.split_once('-') {
                Some((first, last)) => (first.parse().unwrap(), last.parse().unwrap()),
                None => (range.parse().unwrap(), range.parse().unwrap()),
            })
            .collect()
    }

    /// The keys matching `pattern` on this node alone, found with `redis-cli --scan` (`SCAN`,
    /// never `KEYS`).
    pub fn scan(&self, pattern: &str) -> Vec<Vec<u8>> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--scan", "--pattern", pattern])
            .output()
            .expect("run redis-cli --scan");
        assert!(out.status.success(), "redis-cli --scan failed");
        out.stdout
            .split(|&b| b == b'\n')
            .filter(|key| !key.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// `cmdstat_<name>`'s `calls` in this node's `INFO commandstats` (0 if it never ran).
    pub fn calls(&self, name: &str) -> u64 {
        let info = self.command("INFO commandstats");
        let needle = format!("cmdstat_{name}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&needle))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    }
}
