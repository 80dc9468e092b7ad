//! The connection task: connect, log in (or register for pairing), read and dispatch nodes,
//! keep alive, and reconnect with backoff until shut down or logged out.

use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use rand::Rng;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};
use wa_core::Jid;
use wa_core::binary::{Node, decode_frame};
use wa_core::pair::{login_payload, registration_payload};

use crate::client::{ConnHandle, Inner, lock};
use crate::events::{DisconnectReason, Event};
use crate::transport;

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionEnd {
    Shutdown,
    Restart,
    LoggedOut(String),
    Replaced,
    Lost(DisconnectReason),
    PairingGaveUp(String),
}

/// Keepalive pings that may fail in a row before the connection counts as dead.
const MAX_PING_FAILURES: u32 = 2;

pub(crate) async fn run(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.subscribe();
    let mut attempt: u32 = 0;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (end, logged_in) = session(&inner).instrument(info_span!("session")).await;
        inner.connected.send_replace(None);
        let policy = &inner.config.reconnect;
        match end {
            SessionEnd::Shutdown => {
                emit_disconnected(&inner, DisconnectReason::Requested, false);
                break;
            }
            SessionEnd::Restart => {
                info!("restart requested by the server");
                emit_disconnected(&inner, DisconnectReason::RestartRequired, true);
                attempt = 0;
                continue;
            }
            SessionEnd::LoggedOut(reason) => {
                warn!(%reason, "logged out");
                if let Err(e) = inner.store.clear().await {
                    warn!(error = %e, "clearing the store after logout failed");
                }
                inner.events.emit(Event::LoggedOut { reason });
                emit_disconnected(&inner, DisconnectReason::LoggedOut, false);
                break;
            }
            SessionEnd::Replaced => {
                warn!("stream replaced by another connection");
                emit_disconnected(&inner, DisconnectReason::Replaced, false);
                break;
            }
            SessionEnd::PairingGaveUp(reason) => {
                inner.events.emit(Event::PairError { reason });
                emit_disconnected(
                    &inner,
                    DisconnectReason::ConnectionLost("pairing ended".into()),
                    false,
                );
                break;
            }
            SessionEnd::Lost(reason) => {
                if logged_in {
                    attempt = 0;
                }
                let give_up = !policy.enabled
                    || policy.max_attempts.is_some_and(|max| attempt >= max)
                    || *shutdown.borrow();
                emit_disconnected(&inner, reason.clone(), !give_up);
                if give_up {
                    break;
                }
                let delay = policy.delay(attempt, rand::thread_rng().r#gen::<f64>());
                info!(?reason, delay_ms = delay.as_millis() as u64, "reconnecting");
                attempt = attempt.saturating_add(1);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}

fn emit_disconnected(inner: &Inner, reason: DisconnectReason, reconnecting: bool) {
    inner.events.emit(Event::Disconnected {
        reason,
        reconnecting,
    });
}

/// One connection, from dial to close. Returns how it ended and whether it had logged in.
async fn session(inner: &Arc<Inner>) -> (SessionEnd, bool) {
    let device = match inner.ensure_device().await {
        Ok(d) => d,
        Err(e) => {
            return (
                SessionEnd::Lost(DisconnectReason::ConnectionLost(e.to_string())),
                false,
            );
        }
    };
    let payload = match &device.jid {
        Some(jid) if device.is_paired() => {
            let phone = jid.user.parse::<u64>().unwrap_or(0);
            login_payload(phone, jid.device() as u32, &inner.config.client)
        }
        _ => registration_payload(&device.keys, &inner.config.client),
    }
    .encode_to_vec();
    let (mut writer, mut reader) =
        match transport::connect(&inner.config, &device.keys.noise, &payload).await {
            Ok(halves) => halves,
            Err(e) => {
                debug!(error = %e, "connect failed");
                return (
                    SessionEnd::Lost(DisconnectReason::ConnectionLost(e.to_string())),
                    false,
                );
            }
        };

    let (tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (end_tx, mut end_rx) = mpsc::unbounded_channel::<SessionEnd>();
    *lock(&inner.conn) = Some(ConnHandle {
        tx,
        end: end_tx.clone(),
    });

    // Writer: seals frames in order.
    let write_end = end_tx.clone();
    let writer_task = tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            if let Err(e) = writer.send(&frame).await {
                let _ = write_end.send(SessionEnd::Lost(DisconnectReason::ConnectionLost(
                    e.to_string(),
                )));
                return writer;
            }
        }
        writer
    });

    // Handler: everything that is not a response, in arrival order.
    let (handler_tx, mut handler_rx) = mpsc::unbounded_channel::<Node>();
    let handler_inner = inner.clone();
    let previous_handler = lock(&inner.draining_handler).take();
    let mut handler_task = tokio::spawn(
        async move {
            if let Some(previous) = previous_handler {
                let _ = previous.await;
            }
            while let Some(node) = handler_rx.recv().await {
                crate::recv::handle_node(&handler_inner, node).await;
            }
        }
        .in_current_span(),
    );

    let mut shutdown = inner.shutdown.subscribe();
    let mut keepalive = tokio::time::interval(inner.config.keepalive_interval);
    keepalive.tick().await;
    let (ping_tx, mut ping_rx) = mpsc::unbounded_channel::<bool>();
    let mut ping_failures = 0u32;
    let mut logged_in = false;

    let end = loop {
        tokio::select! {
            frame = reader.next() => {
                let plaintext = match frame {
                    Ok(Some(p)) => p,
                    Ok(None) => break SessionEnd::Lost(DisconnectReason::ConnectionLost("closed".into())),
                    Err(e) => break SessionEnd::Lost(DisconnectReason::ConnectionLost(e.to_string())),
                };
                let node = match decode_frame(&plaintext) {
                    Ok(n) => n,
                    Err(e) => {
                        warn!(error = %e, "undecodable node");
                        continue;
                    }
                };
                let Some(node) = inner.route_response(node) else { continue };
                match node.tag.as_str() {
                    "stream:error" => break stream_error(&node),
                    "xmlstreamend" => break SessionEnd::Lost(DisconnectReason::ConnectionLost("stream end".into())),
                    "failure" => break login_failure(&node),
                    "success" => {
                        logged_in = true;
                        let inner = inner.clone();
                        tokio::spawn(async move { after_login(inner, node).await }.in_current_span());
                    }
                    _ => { let _ = handler_tx.send(node); }
                }
            }
            Some(end) = end_rx.recv() => break end,
            Some(ok) = ping_rx.recv() => {
                if ok { ping_failures = 0 } else {
                    ping_failures += 1;
                    if ping_failures >= MAX_PING_FAILURES {
                        break SessionEnd::Lost(DisconnectReason::KeepaliveTimeout);
                    }
                }
            }
            _ = keepalive.tick() => {
                let inner = inner.clone();
                let ping_tx = ping_tx.clone();
                tokio::spawn(async move {
                    let ping = Node::new("iq")
                        .with_attr("to", "s.whatsapp.net")
                        .with_attr("type", "get")
                        .with_attr("xmlns", "w:p")
                        .with_children(vec![Node::new("ping")]);
                    let ok = tokio::time::timeout(Duration::from_secs(10), inner.iq(ping)).await;
                    let _ = ping_tx.send(matches!(ok, Ok(Ok(_))));
                });
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() { break SessionEnd::Shutdown }
            }
        }
    };

    lock(&inner.conn).take();
    inner.clear_pending();
    drop(handler_tx);
    // Let the writer flush what handlers already queued, then close the socket; a socket
    // that no longer drains must not hold the session open.
    let writer_abort = writer_task.abort_handle();
    match tokio::time::timeout(Duration::from_secs(5), writer_task).await {
        Ok(Ok(mut writer)) => {
            let _ = tokio::time::timeout(Duration::from_secs(2), writer.close()).await;
        }
        _ => writer_abort.abort(),
    }
    if tokio::time::timeout(Duration::from_secs(5), &mut handler_task)
        .await
        .is_err()
    {
        // Still working through its queue: the next connection's handler goes after it.
        *lock(&inner.draining_handler) = Some(handler_task);
    }
    (end, logged_in)
}

fn stream_error(node: &Node) -> SessionEnd {
    let code = node.attr("code").unwrap_or_default();
    let conflict = node.child("conflict").and_then(|c| c.attr("type"));
    info!(code, ?conflict, "stream error");
    match (code, conflict) {
        ("515", _) => SessionEnd::Restart,
        (_, Some("replaced")) => SessionEnd::Replaced,
        ("401", _) | (_, Some("device_removed")) => SessionEnd::LoggedOut(format!(
            "stream error 401{}",
            conflict.map(|c| format!(" ({c})")).unwrap_or_default()
        )),
        ("409", _) => SessionEnd::Replaced,
        (code, _) => SessionEnd::Lost(DisconnectReason::ServerError(code.parse().unwrap_or(0))),
    }
}

fn login_failure(node: &Node) -> SessionEnd {
    let reason = node.attr("reason").unwrap_or_default();
    warn!(reason, "login failure");
    match reason {
        "401" | "403" | "406" => SessionEnd::LoggedOut(format!("login failure {reason}")),
        other => SessionEnd::Lost(DisconnectReason::ServerError(other.parse().unwrap_or(0))),
    }
}

/// After `<success>`: remember our LID, make sure the server has prekeys, go active, and
/// announce the connection.
async fn after_login(inner: Arc<Inner>, success: Node) {
    let Ok(mut device) = inner.paired_device().await else {
        return;
    };
    if let Some(Ok(lid)) = success.attr_jid("lid") {
        let lid = match device.jid.as_ref().map(Jid::device) {
            Some(d) if d != 0 => lid.to_non_ad().with_device(d),
            _ => lid,
        };
        if device.lid.as_ref() != Some(&lid) {
            device.lid = Some(lid);
            if let Err(e) = inner.store.save_device(&device).await {
                warn!(error = %e, "saving our LID failed");
            }
        }
    }
    if let Err(e) = crate::keys::ensure_pre_keys(&inner).await {
        warn!(error = %e, "prekey upload failed");
    }
    let active = Node::new("iq")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "set")
        .with_attr("xmlns", "passive")
        .with_children(vec![Node::new("active")]);
    if let Err(e) = inner.iq(active).await {
        debug!(error = %e, "passive/active iq failed");
    }
    if inner.config.send_presence_on_connect
        && let Some(name) = &inner.config.client.push_name
    {
        let _ = inner.send_node(
            &Node::new("presence")
                .with_attr("type", "available")
                .with_attr("name", name.clone()),
        );
    }
    let Some(jid) = device.jid.clone() else {
        return;
    };
    info!("connected");
    inner.connected.send_replace(Some(jid.clone()));
    inner.events.emit(Event::Connected { jid });
}
