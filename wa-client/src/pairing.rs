//! Linking this device: QR refs from `pair-device` (rotated as they expire), phone-code
//! pairing (`link_code_companion_reg` stages), and `pair-success` -> `pair-device-sign`.

use std::sync::Arc;

use rand::RngCore;
use tracing::{info, warn};
use wa_core::Jid;
use wa_core::binary::Node;
use wa_core::pair::{CompanionPlatform, QrData, code::CompanionCodePairing, complete_pair_success};
use wa_core::signal::{ProtocolAddress, PublicKey};

use crate::client::{CodePairing, Inner, lock};
use crate::conn::SessionEnd;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::qr::QrCode;

fn result_iq(request: &Node) -> Node {
    Node::new("iq")
        .with_attr(
            "to",
            request.attr("from").unwrap_or("s.whatsapp.net").to_owned(),
        )
        .with_attr("id", request.attr("id").unwrap_or_default().to_owned())
        .with_attr("type", "result")
}

/// `<iq type="set"><pair-device><ref/>…</pair-device></iq>`.
pub(crate) async fn handle_pair_device(inner: &Arc<Inner>, iq: &Node) {
    let _ = inner.send_node(&result_iq(iq));
    let refs: Vec<String> = iq
        .child("pair-device")
        .map(|p| p.children())
        .unwrap_or_default()
        .iter()
        .filter(|r| r.tag == "ref")
        .filter_map(|r| {
            r.content_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .or_else(|| r.content_text().map(str::to_owned))
        })
        .collect();
    if let Some(phone) = inner.config.pair_phone.clone() {
        let inner = inner.clone();
        tokio::spawn(async move {
            match request_code(&inner, &phone).await {
                Ok(code) => inner.events.emit(Event::PairCode { code }),
                Err(e) => inner.end_session(SessionEnd::PairingGaveUp(format!(
                    "pair code request failed: {e}"
                ))),
            }
        });
        return;
    }
    let Ok(device) = inner.ensure_device().await else {
        return;
    };
    let inner = inner.clone();
    let keys = device.keys;
    // Rotate through the refs; the session ends (and the task with it) on pair-success.
    tokio::spawn(async move {
        let mut shutdown = inner.shutdown.subscribe();
        for (i, reference) in refs.into_iter().enumerate() {
            let data = QrData {
                reference,
                noise_public: keys.noise.public,
                identity_public: keys.identity.public,
                adv_secret: keys.adv_secret,
                platform: CompanionPlatform::Chrome,
            };
            if inner.connected.borrow().is_some() || lock(&inner.conn).is_none() {
                return;
            }
            inner.events.emit(Event::Qr(QrCode {
                code: data.to_qr_string(),
            }));
            let wait = if i == 0 {
                inner.config.qr_first_timeout
            } else {
                inner.config.qr_next_timeout
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            if inner
                .store
                .load_device()
                .await
                .ok()
                .flatten()
                .is_some_and(|d| d.jid.is_some())
            {
                return;
            }
        }
        if lock(&inner.conn).is_some() {
            inner.end_session(SessionEnd::PairingGaveUp("QR codes expired".into()));
        }
    });
}

/// `companion_hello`: asks the server to pair with `phone` by code; returns the code.
pub(crate) async fn request_code(inner: &Arc<Inner>, phone: &str) -> Result<String> {
    let phone: String = phone.chars().filter(char::is_ascii_digit).collect();
    if phone.len() < 7 {
        return Err(Error::InvalidArgument("phone number too short".into()));
    }
    let device = inner.ensure_device().await?;
    let pairing = CompanionCodePairing::new(&mut rand::rngs::OsRng, None)
        .map_err(|e| Error::protocol(e.to_string()))?;
    let wrapped = pairing.wrapped_ephemeral(&mut rand::rngs::OsRng);
    let code = pairing.code().to_owned();
    *lock(&inner.code_pairing) = Some(CodePairing {
        phone: phone.clone(),
        pairing,
        reference: None,
    });
    let iq = Node::new("iq")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "set")
        .with_attr("xmlns", "md")
        .with_children(vec![
            Node::new("link_code_companion_reg")
                .with_attr("jid", format!("{phone}@s.whatsapp.net"))
                .with_attr("stage", "companion_hello")
                .with_attr("should_show_push_notification", "true")
                .with_children(vec![
                    Node::new("link_code_pairing_wrapped_companion_ephemeral_pub")
                        .with_bytes(wrapped.to_vec()),
                    Node::new("companion_server_auth_key_pub")
                        .with_bytes(device.keys.noise.public.to_vec()),
                    Node::new("companion_platform_id")
                        .with_text(CompanionPlatform::Chrome.id().to_owned()),
                    Node::new("companion_platform_display")
                        .with_text(format!("Chrome ({})", inner.config.client.os)),
                    Node::new("link_code_pairing_nonce").with_text("0"),
                ]),
        ]);
    let answer = inner.iq(iq).await?;
    let reference = answer
        .child("link_code_companion_reg")
        .and_then(|r| r.child("link_code_pairing_ref"))
        .and_then(|r| {
            r.content_bytes()
                .map(<[u8]>::to_vec)
                .or_else(|| r.content_text().map(|t| t.as_bytes().to_vec()))
        })
        .ok_or_else(|| Error::protocol("companion_hello answer without a ref"))?;
    if let Some(state) = lock(&inner.code_pairing).as_mut() {
        state.reference = Some(reference);
    }
    info!("pair code issued");
    Ok(code)
}

/// `<notification type="link_code_companion_reg">`: the user typed the code on the phone.
pub(crate) async fn handle_code_notification(inner: &Arc<Inner>, node: &Node) -> Result<()> {
    let reg = node
        .child("link_code_companion_reg")
        .ok_or_else(|| Error::protocol("notification without link_code_companion_reg"))?;
    let bytes = |tag: &str| {
        reg.child(tag)
            .and_then(|c| c.content_bytes().map(<[u8]>::to_vec))
            .ok_or_else(|| Error::protocol(format!("{tag} missing")))
    };
    let wrapped = bytes("link_code_pairing_wrapped_primary_ephemeral_pub")?;
    let primary_identity: [u8; 32] = bytes("primary_identity_pub")?
        .try_into()
        .map_err(|_| Error::protocol("primary identity is not 32 bytes"))?;
    let (phone, pairing, reference) = {
        let state = lock(&inner.code_pairing);
        let state = state
            .as_ref()
            .ok_or_else(|| Error::protocol("no code pairing in progress"))?;
        (
            state.phone.clone(),
            state.pairing.clone(),
            state.reference.clone().unwrap_or_default(),
        )
    };
    let mut device = inner.ensure_device().await?;
    let finish = pairing
        .finish(
            &mut rand::rngs::OsRng,
            &device.keys.identity,
            &wrapped,
            &primary_identity,
        )
        .map_err(|e| Error::protocol(e.to_string()))?;
    device.keys.adv_secret = finish.adv_secret;
    inner.store.save_device(&device).await?;
    let iq = Node::new("iq")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "set")
        .with_attr("xmlns", "md")
        .with_children(vec![
            Node::new("link_code_companion_reg")
                .with_attr("jid", format!("{phone}@s.whatsapp.net"))
                .with_attr("stage", "companion_finish")
                .with_children(vec![
                    Node::new("link_code_pairing_wrapped_key_bundle")
                        .with_bytes(finish.wrapped_bundle),
                    Node::new("companion_identity_public")
                        .with_bytes(device.keys.identity.public.to_vec()),
                    Node::new("link_code_pairing_ref").with_bytes(reference),
                ]),
        ]);
    inner.iq(iq).await?;
    Ok(())
}

/// `<iq type="set"><pair-success>…</pair-success></iq>`.
pub(crate) async fn handle_pair_success(inner: &Arc<Inner>, iq: &Node) {
    if let Err(e) = pair_success(inner, iq).await {
        warn!(error = %e, "pair-success failed");
        let (code, text) = match &e {
            Error::Server { code, text } => (*code, text.clone()),
            _ => (500, "internal-error".to_owned()),
        };
        let _ = inner.send_node(
            &Node::new("iq")
                .with_attr("to", "s.whatsapp.net")
                .with_attr("type", "error")
                .with_attr("id", iq.attr("id").unwrap_or_default().to_owned())
                .with_children(vec![
                    Node::new("error")
                        .with_attr("code", code.to_string())
                        .with_attr("text", text),
                ]),
        );
        inner.events.emit(Event::PairError {
            reason: e.to_string(),
        });
    }
}

async fn pair_success(inner: &Arc<Inner>, iq: &Node) -> Result<()> {
    let success = iq
        .child("pair-success")
        .ok_or_else(|| Error::protocol("no pair-success"))?;
    let identity = success
        .child("device-identity")
        .and_then(|d| d.content_bytes())
        .ok_or_else(|| Error::protocol("pair-success without device-identity"))?;
    let jid: Jid = success
        .child("device")
        .and_then(|d| d.attr_jid("jid"))
        .and_then(|j| j.ok())
        .ok_or_else(|| Error::protocol("pair-success without device jid"))?;
    let lid: Option<Jid> = success
        .child("device")
        .and_then(|d| d.attr_jid("lid"))
        .and_then(|j| j.ok());
    let mut device = inner.ensure_device().await?;
    let mut random = [0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let pairing = complete_pair_success(
        identity,
        &device.keys.adv_secret,
        &device.keys.identity,
        &random,
    )
    .map_err(|e| Error::Server {
        code: e.error_code(),
        text: e.error_text().to_owned(),
    })?;
    device.jid = Some(jid.clone());
    device.lid = lid;
    device.account = Some(pairing.signed_identity_bytes());
    device.platform = success
        .child("platform")
        .and_then(|p| p.attr("name"))
        .map(str::to_owned);
    inner.store.save_device(&device).await?;
    // Trust the phone's identity for the account's primary device.
    inner
        .store
        .save_identity(
            &ProtocolAddress::from_jid_parts(&jid.user, jid.domain_type(), 0),
            &PublicKey::from_bytes(pairing.account_signature_key),
        )
        .await?;
    inner.send_node(&result_iq(iq).with_children(vec![
        Node::new("pair-device-sign").with_children(vec![
            Node::new("device-identity")
                .with_attr("key-index", pairing.key_index.to_string())
                .with_bytes(pairing.reply_identity()),
        ]),
    ]))?;
    lock(&inner.code_pairing).take();
    info!("paired");
    inner.events.emit(Event::PairSuccess { jid });
    Ok(())
}
