//! Listening sockets for every role, with an accept queue long enough for a
//! burst of clients.

use std::io;

use tokio::net::{TcpListener, TcpSocket, lookup_host};

/// Connections the kernel completes and holds until the accept loop takes
/// them. Tokio's `TcpListener::bind` asks for 128: when a hundred or more
/// SMTP clients connect at once, the kernel drops the SYNs past that and
/// each such client waits one to three seconds for its retransmission. The
/// kernel caps the value at `net.core.somaxconn`.
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds `addr` (`host:port`; port 0 picks a free one) as
/// `TcpListener::bind` does, trying each address the host resolves to, and
/// listens with [`LISTEN_BACKLOG`].
pub async fn listen(addr: &str) -> io::Result<TcpListener> {
    let mut last_error = None;
    for address in lookup_host(addr).await? {
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As TcpListener::bind: a restarted server can bind while old
        // connections to its port linger in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        match socket
            .bind(address)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr} resolves to no address"),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_connections_beyond_128_waits_in_the_accept_queue() {
        let listener = listen("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Nobody accepts yet: every connect must still complete at once,
        // held in the kernel's queue (with a backlog of 128 the SYNs past it
        // are dropped and those connects wait a second or more).
        // The kernel caps the backlog at net.core.somaxconn (4096 by default).
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(4096);
        let burst = 300.min(somaxconn);
        let mut clients = Vec::new();
        for _ in 0..burst {
            let connect = tokio::net::TcpStream::connect(addr);
            let client = tokio::time::timeout(std::time::Duration::from_millis(500), connect)
                .await
                .expect("connect completes without a SYN retransmission")
                .unwrap();
            clients.push(client);
        }
        for _ in 0..burst {
            listener.accept().await.unwrap();
        }
    }

    #[tokio::test]
    async fn an_address_that_is_in_use_or_unresolvable_is_an_error() {
        let first = listen("127.0.0.1:0").await.unwrap();
        let taken = first.local_addr().unwrap().to_string();
        assert_eq!(
            listen(&taken).await.unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        assert!(listen("no-such-host.invalid:25").await.is_err());
    }
}
