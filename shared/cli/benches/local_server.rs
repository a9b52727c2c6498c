//! The local server's throughput beside a bare hyper "hello" built with the same profile (issue
//! 23): each answers keep-alive GETs from 16 connections on loopback for a few seconds, in turn,
//! the order rotating each round; medians of the rounds, and each route's ratio to the hello.
//!
//! ```sh
//! cargo bench -p coverdesk-cli --bench local_server                       # 5 rounds of 3 s
//! cargo bench -p coverdesk-cli --bench local_server -- --seconds 10 --rounds 3 --connections 16
//! cargo test -p coverdesk-cli --bench local_server -- --quick             # its checks only
//! ```
//!
//! The server is the `coverdesk` binary of this build (`coverdesk serve`, embedded store, a fresh
//! data folder, its logs as a collector gets them: one JSON line a request, to a file whose size
//! is printed per request); the hello is this bench's own binary in `--hello` mode, a hyper 1
//! HTTP/1 server answering "hello" on a multi-thread runtime as the server's. The load comes from
//! this process: one thread, hyper's HTTP/1 client, every answer read to its end and its status
//! checked (any other than 200 fails the run). Both servers share the machine's cores with the
//! load, alike.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn number(name: &str, default: f64) -> f64 {
    arg(name).map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number"))).unwrap_or(default)
}

/// The bare server: "hello" to every request, HTTP/1 keep-alive, on the port it prints.
async fn hello() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap().port());
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// A child process that is killed when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Answers to one GET: its status and body.
async fn get(addr: SocketAddr, path: &str) -> Option<(u16, Bytes)> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.ok()?;
    tokio::spawn(conn);
    let resp = send.send_request(request(addr, path)).await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.into_body().collect().await.ok()?.to_bytes()))
}

fn request(addr: SocketAddr, path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", addr.to_string())
        // The local team (`coverdesk serve` makes it): `local:local-secret`.
        .header("authorization", "Basic bG9jYWw6bG9jYWwtc2VjcmV0")
        .body(Empty::new())
        .unwrap()
}

/// `connections` keep-alive connections asking `path` one request after another for `seconds`:
/// the answers per second, and how many were not 200.
async fn load(addr: SocketAddr, path: &'static str, connections: usize, seconds: f64) -> (f64, usize) {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
            tokio::spawn(conn);
            let (mut ok, mut bad) = (0usize, 0usize);
            while Instant::now() < until {
                let resp = send.send_request(request(addr, path)).await.unwrap();
                let status = resp.status();
                resp.into_body().collect().await.unwrap();
                if status == 200 {
                    ok += 1;
                } else {
                    bad += 1;
                }
            }
            (ok, bad)
        }));
    }
    let (mut ok, mut bad) = (0, 0);
    for t in tasks {
        let (o, b) = t.await.unwrap();
        ok += o;
        bad += b;
    }
    (ok as f64 / start.elapsed().as_secs_f64(), bad)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// Long on purpose: a bench's main is its whole protocol (start both servers, seed, run each
// case in turn, print the table and check it), read top to bottom once.
fn main() {
    if std::env::args().any(|a| a == "--hello") {
        tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(hello());
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let seconds = number("--seconds", if quick { 0.5 } else { 3.0 });
    let rounds = number("--rounds", if quick { 1.0 } else { 5.0 }).max(1.0) as usize;
    let connections = number("--connections", 16.0).max(1.0) as usize;

    // The hello: this binary again.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--hello")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the hello server starts");
    let mut port = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut port).unwrap();
    let _hello = Server(child);
    let hello: SocketAddr = format!("127.0.0.1:{}", port.trim()).parse().unwrap();

    // The local server, on a fresh data folder; its logs to a file, as a collector reads them.
    // `--server ADDR`: one already running instead (a build of your own under a profiler).
    let data = tempfile::tempdir().unwrap();
    let logs = data.path().join("server.log");
    let (server, _server) = match arg("--server") {
        Some(addr) => (addr.parse().expect("--server takes HOST:PORT"), None),
        None => {
            let server: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_coverdesk"))
                .args(["serve", "--port", &server.port().to_string()])
                .env("COVERDESK_DATA_DIR", data.path().join("data"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&logs).unwrap())
                .spawn()
                .expect("coverdesk serve starts");
            (server, Some(Server(child)))
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let account = rt.block_on(async {
        let started = Instant::now();
        while get(server, "/carriers").await.is_none() {
            assert!(started.elapsed() < Duration::from_secs(60), "coverdesk serve did not answer within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // One account to read, made as a client makes it.
        let stream = tokio::net::TcpStream::connect(server).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let body = r#"{"data": {"attributes": {
            "initialAccountHolder": {"contactSubtype": "Person", "firstName": "Ray", "lastName": "Newton",
              "primaryAddress": {"addressLine1": "1253 Paloma Ave", "city": "Arcadia", "state": {"code": "CA"}, "postalCode": "91007"}},
            "initialPrimaryLocation": {"addressLine1": "1253 Paloma Ave", "city": "Arcadia", "state": {"code": "CA"}, "postalCode": "91007"},
            "producerCodes": [{"id": "pc:16"}]}}}"#;
        let req = Request::post("/account/v1/accounts")
            .header("host", server.to_string())
            .header("authorization", "Basic bG9jYWw6bG9jYWwtc2VjcmV0")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 201, "the account is created");
        let created: serde_json::Value =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        let id = created["data"]["attributes"]["id"].as_str().expect("the account's id").to_string();
        let (status, _) = get(server, &format!("/account/v1/accounts/{id}")).await.unwrap();
        assert_eq!(status, 200, "the account reads back");
        id
    });
    let account_path: &'static str = Box::leak(format!("/account/v1/accounts/{account}").into_boxed_str());

    let cases: [(&str, SocketAddr, &'static str); 3] = [
        ("hello", hello, "/"),
        ("GET /carriers", server, "/carriers"),
        ("GET /account/v1/accounts/{id}", server, account_path),
    ];
    let mut rates = vec![Vec::new(); cases.len()];
    let log_before = std::fs::metadata(&logs).map(|m| m.len()).unwrap_or(0);
    let mut served = 0.0;
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..cases.len()).collect();
        order.rotate_left(round % cases.len());
        for i in order {
            let (name, addr, path) = cases[i];
            let (rate, bad) = rt.block_on(load(addr, path, connections, seconds));
            assert_eq!(bad, 0, "{name}: answers other than 200");
            assert!(rate > 0.0, "{name}: no answer");
            if addr == server {
                served += rate * seconds;
            }
            rates[i].push(rate);
        }
    }
    let log_bytes = std::fs::metadata(&logs).map(|m| m.len()).unwrap_or(0) - log_before;
    let m: Vec<f64> = rates.into_iter().map(median).collect();
    println!(
        "{connections} connections on loopback, {seconds} s a case, median of {rounds} rounds, cases in rotating order:"
    );
    for (i, (name, _, _)) in cases.iter().enumerate() {
        println!("  {name:<32} {:>9.0} requests/s  {:.3}x the hello", m[i], m[i] / m[0]);
    }
    println!(
        "  the server's logs: {:.0} bytes a request ({log_bytes} bytes for about {served:.0} requests)",
        log_bytes as f64 / served.max(1.0)
    );
    println!("  goals: GET /carriers >= 0.6x, GET /account/v1/accounts/{{id}} >= 0.35x the hello");
}
