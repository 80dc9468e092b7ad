//! Groups over `w:g2` (create, metadata, add, remove, w:gp2 notifications, skmsg fan-out),
//! presence and chat-state fan-out, and the frame-delay fault.

mod common;

use std::time::{Duration, Instant};

use common::{Client, paired};
use wa_core::binary::Node;
use wa_sandbox::{Sandbox, SandboxConfig};

fn iq(id: &str, to: &str, kind: &str, xmlns: &str, children: Vec<Node>) -> Node {
    Node::new("iq")
        .with_attr("id", id.to_owned())
        .with_attr("to", to.to_owned())
        .with_attr("type", kind.to_owned())
        .with_attr("xmlns", xmlns.to_owned())
        .with_children(children)
}

fn participant(jid: &str) -> Node {
    Node::new("participant").with_attr("jid", jid.to_owned())
}

async fn drain_login(c: &mut Client) {
    c.recv_until(|n| n.tag.as_str() == "ib").await.unwrap();
}

#[tokio::test]
async fn group_create_add_remove_and_skmsg_fan_out() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let a = sandbox.create_phone("6281500000001").await.unwrap();
    let b = sandbox.create_phone("6281500000002").await.unwrap();
    let c = sandbox.create_phone("6281500000003").await.unwrap();
    let (_ca, mut ca) = paired(&sandbox, &a).await;
    let (_cb, mut cb) = paired(&sandbox, &b).await;
    let (_cc, mut cc) = paired(&sandbox, &c).await;
    for client in [&mut ca, &mut cb, &mut cc] {
        drain_login(client).await;
    }

    let created = ca
        .iq(iq(
            "g1",
            "@g.us",
            "set",
            "w:g2",
            vec![
                Node::new("create")
                    .with_attr("subject", "trio")
                    .with_children(vec![participant("6281500000002@s.whatsapp.net")]),
            ],
        ))
        .await;
    let group = created.child("group").unwrap();
    let gid = format!("{}@g.us", group.attr("id").unwrap());
    assert_eq!(group.children_by_tag("participant").count(), 2);
    let note = cb
        .recv_until(|n| n.attr("type") == Some("w:gp2"))
        .await
        .unwrap();
    assert!(note.child("create").is_some());

    let added = ca
        .iq(iq(
            "g2",
            &gid,
            "set",
            "w:g2",
            vec![Node::new("add").with_children(vec![participant("6281500000003@s.whatsapp.net")])],
        ))
        .await;
    assert_eq!(added.attr("type"), Some("result"));
    let note = cc
        .recv_until(|n| n.attr("type") == Some("w:gp2"))
        .await
        .unwrap();
    assert!(note.child("add").is_some());
    let meta = cb
        .iq(iq(
            "g3",
            &gid,
            "get",
            "w:g2",
            vec![Node::new("query").with_attr("request", "interactive")],
        ))
        .await;
    assert_eq!(
        meta.child("group")
            .unwrap()
            .children_by_tag("participant")
            .count(),
        3
    );

    // A non-admin cannot add people.
    let refused = cb
        .iq(iq(
            "g4",
            &gid,
            "set",
            "w:g2",
            vec![Node::new("add").with_children(vec![participant("6281500000009@s.whatsapp.net")])],
        ))
        .await;
    assert_eq!(refused.attr("type"), Some("error"));

    // skmsg from a goes to every other member device (b's and c's companions and phones).
    let skmsg = Node::new("enc")
        .with_attr("v", "2")
        .with_attr("type", "skmsg")
        .with_bytes(vec![1, 2, 3]);
    let message = Node::new("message")
        .with_attr("id", "3EB0GROUP1")
        .with_attr("to", gid.clone())
        .with_attr("type", "text")
        .with_children(vec![Node::new("participants"), skmsg]);
    ca.send(&message).await;
    for client in [&mut cb, &mut cc] {
        let got = client
            .recv_until(|n| n.tag.as_str() == "message")
            .await
            .unwrap();
        assert_eq!(got.attr("from"), Some(gid.as_str()));
        assert_eq!(
            got.attr("participant"),
            Some("6281500000001:1@s.whatsapp.net")
        );
        assert_eq!(
            got.child("enc").unwrap().content_bytes(),
            Some(&[1u8, 2, 3][..])
        );
    }

    let removed = ca
        .iq(iq(
            "g5",
            &gid,
            "set",
            "w:g2",
            vec![
                Node::new("remove")
                    .with_children(vec![participant("6281500000003@s.whatsapp.net")]),
            ],
        ))
        .await;
    assert_eq!(removed.attr("type"), Some("result"));
    let note = cc
        .recv_until(|n| n.attr("type") == Some("w:gp2"))
        .await
        .unwrap();
    assert!(note.child("remove").is_some());
    let forbidden = cc
        .iq(iq("g6", &gid, "get", "w:g2", vec![Node::new("query")]))
        .await;
    assert_eq!(forbidden.attr("type"), Some("error"));
}

#[tokio::test]
async fn presence_and_chatstate_reach_subscribers() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let a = sandbox.create_phone("6281500000011").await.unwrap();
    let b = sandbox.create_phone("6281500000012").await.unwrap();
    let (_ca, mut ca) = paired(&sandbox, &a).await;
    let (_cb, mut cb) = paired(&sandbox, &b).await;
    drain_login(&mut ca).await;
    drain_login(&mut cb).await;
    cb.send(
        &Node::new("presence")
            .with_attr("type", "subscribe")
            .with_attr("to", "6281500000011@s.whatsapp.net"),
    )
    .await;
    let first = cb
        .recv_until(|n| n.tag.as_str() == "presence")
        .await
        .unwrap();
    assert_eq!(first.attr("type"), Some("unavailable"));
    ca.send(
        &Node::new("presence")
            .with_attr("type", "available")
            .with_attr("name", "A"),
    )
    .await;
    let online = cb
        .recv_until(|n| n.tag.as_str() == "presence")
        .await
        .unwrap();
    assert_eq!(online.attr("from"), Some("6281500000011@s.whatsapp.net"));
    assert_eq!(online.attr("type"), None);
    ca.send(
        &Node::new("chatstate")
            .with_attr("to", "6281500000012@s.whatsapp.net")
            .with_children(vec![Node::new("composing")]),
    )
    .await;
    let typing = cb
        .recv_until(|n| n.tag.as_str() == "chatstate")
        .await
        .unwrap();
    assert_eq!(typing.attr("from"), Some("6281500000011@s.whatsapp.net"));
    assert!(typing.child("composing").is_some());
}

#[tokio::test]
async fn delay_fault_slows_frames_to_that_device() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let a = sandbox.create_phone("6281500000021").await.unwrap();
    let (ca_keys, mut ca) = paired(&sandbox, &a).await;
    drain_login(&mut ca).await;
    sandbox
        .fault()
        .delay_frames(ca_keys.jid.as_ref().unwrap(), Duration::from_millis(400));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    let answer = ca.iq(iq("p", "s.whatsapp.net", "get", "w:p", vec![])).await;
    assert_eq!(answer.attr("type"), Some("result"));
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
    sandbox
        .fault()
        .delay_frames(ca_keys.jid.as_ref().unwrap(), Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let start = Instant::now();
    ca.iq(iq("q", "s.whatsapp.net", "get", "w:p", vec![])).await;
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}
