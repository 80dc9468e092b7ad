//! Building HTML: the escaping every dynamic value goes through, the page frame with its
//! navigation, and small pieces (status badges, times, select options) the pages share.

use serde_json::Value;

use super::Flash;
use super::session::{Session, csrf_field};

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a JSON string field (empty for null or non-strings).
pub(crate) fn esc_v(v: &Value) -> String {
    esc(v.as_str().unwrap_or(""))
}

/// Percent-encodes a value for a URL path segment or query value.
pub(crate) fn url_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The pages in the navigation: (path, label).
const NAV: &[(&str, &str)] = &[
    ("/dashboard", "Overview"),
    ("/dashboard/devices", "Devices"),
    ("/dashboard/messages", "Messages"),
    ("/dashboard/contacts", "Contacts"),
    ("/dashboard/groups", "Groups"),
    ("/dashboard/webhooks", "Webhooks"),
    ("/dashboard/keys", "API keys"),
];

fn asset_links() -> String {
    let a = super::assets();
    format!(
        r#"<link rel="icon" href="/dashboard/assets/{}" type="image/svg+xml"><link rel="stylesheet" href="/dashboard/assets/{}"><script src="/dashboard/assets/{}" defer></script>"#,
        a.icon_name, a.css_name, a.js_name
    )
}

fn head(title: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{}</title>{}</head>"#,
        esc(title),
        asset_links()
    )
}

/// A page without navigation (login, errors). `body` is markup.
pub(crate) fn bare_page(title: &str, body: &str) -> String {
    let inner = if body.trim_start().starts_with('<') {
        body.to_string()
    } else {
        format!(
            r#"<div class="card login"><p>{}</p><p><a href="/dashboard">Back to the dashboard</a></p></div>"#,
            esc(body)
        )
    };
    format!(
        r#"{}<body class="bare"><main>{inner}</main></body></html>"#,
        head(title)
    )
}

/// What a page puts in the frame.
pub(crate) struct Frame<'a> {
    /// The signed-in person.
    pub s: &'a Session,
    /// Title in the header and the tab.
    pub title: &'a str,
    /// The navigation entry to highlight.
    pub nav: &'a str,
    /// A notice at the top.
    pub flash: Option<Flash>,
    /// Set to make the address bar show this path (after a POST rendered a page directly).
    pub canonical: Option<String>,
}

/// A complete page: header, navigation, notice, `body` (markup).
pub(crate) fn page(f: Frame<'_>, body: &str) -> String {
    let nav: String = NAV
        .iter()
        .filter(|(path, _)| *path != "/dashboard/keys" || f.s.is_admin())
        .map(|(path, label)| {
            let current = if *path == f.nav {
                r#" aria-current="page""#
            } else {
                ""
            };
            format!(r#"<a href="{path}"{current}>{label}</a>"#)
        })
        .collect();
    let canonical = f
        .canonical
        .as_deref()
        .map(|c| format!(r#" data-canonical="{}""#, esc(c)))
        .unwrap_or_default();
    format!(
        r#"{head}<body{canonical}>
<header class="top"><a class="brand" href="/dashboard"><span class="logo" aria-hidden="true"></span>Wasap</a>
<nav>{nav}</nav>
<form method="post" action="/dashboard/logout" class="who">{csrf}<span title="Signed in with this key">{who}</span><button class="link" type="submit">Sign out</button></form></header>
<main><h1>{title}</h1>{flash}{body}</main></body></html>"#,
        head = head(&format!("{} · Wasap", f.title)),
        csrf = csrf_field(f.s),
        who = esc(&f.s.key_name),
        title = esc(f.title),
        flash = flash(f.flash.as_ref()),
    )
}

/// The notice box.
pub(crate) fn flash(f: Option<&Flash>) -> String {
    match f {
        Some(Flash::Ok(m)) => format!(r#"<p class="flash ok" role="status">{}</p>"#, esc(m)),
        Some(Flash::Err(m)) => format!(r#"<p class="flash err" role="alert">{}</p>"#, esc(m)),
        None => String::new(),
    }
}

/// A device status in words.
pub(crate) fn status_label(status: &str) -> &'static str {
    match status {
        "created" => "Not connected",
        "qr_waiting" => "Waiting for scan",
        "online" => "Online",
        "offline" => "Offline",
        "logged_out" => "Logged out",
        "banned" => "Banned",
        "queued" => "Queued",
        "sent" => "Sent",
        "delivered" => "Delivered",
        "read" => "Read",
        "failed" => "Failed",
        "received" => "Received",
        "pending" => "Pending",
        "dead" => "Dead letter",
        _ => "Unknown",
    }
}

/// A status badge; `live` adds the hooks the script updates for a device.
pub(crate) fn badge(status: &str, live_device: Option<&str>) -> String {
    let live = live_device
        .map(|id| format!(r#" data-device-status="{}""#, esc(id)))
        .unwrap_or_default();
    format!(
        r#"<span class="badge s-{cls}"{live}>{label}</span>"#,
        cls = esc(status),
        label = status_label(status),
    )
}

/// An RFC 3339 time from the API as a `<time>` the script shows in local time.
pub(crate) fn time(v: &Value) -> String {
    match v.as_str() {
        Some(t) => {
            let shown = t.replacen('T', " ", 1);
            let shown = shown.split('.').next().unwrap_or(&shown);
            format!(r#"<time datetime="{}">{} UTC</time>"#, esc(t), esc(shown))
        }
        None => r#"<span class="muted">—</span>"#.to_string(),
    }
}

/// `<option>`s for `(value, label)` pairs with `selected` marked.
pub(crate) fn options(items: &[(String, String)], selected: &str) -> String {
    items
        .iter()
        .map(|(v, l)| {
            let sel = if v == selected { " selected" } else { "" };
            format!(r#"<option value="{}"{sel}>{}</option>"#, esc(v), esc(l))
        })
        .collect()
}

/// A one-button POST form (with the CSRF token); `confirm` asks first.
pub(crate) fn button_form(
    s: &Session,
    action: &str,
    label: &str,
    class: &str,
    confirm: Option<&str>,
) -> String {
    let confirm = confirm
        .map(|c| format!(r#" data-confirm="{}""#, esc(c)))
        .unwrap_or_default();
    format!(
        r#"<form method="post" action="{}" class="inline"{confirm}>{}<button type="submit" class="{}">{}</button></form>"#,
        esc(action),
        csrf_field(s),
        esc(class),
        esc(label)
    )
}

/// A secret shown once, with a copy button.
pub(crate) fn secret_once(title: &str, secret: &str, note: &str) -> String {
    format!(
        r#"<div class="card secret" role="status"><h2>{}</h2><p class="muted">{}</p><div class="copyline"><code id="secret-value" data-secret>{}</code><button type="button" data-copy="secret-value">Copy</button></div></div>"#,
        esc(title),
        esc(note),
        esc(secret)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup_and_attribute_breakouts() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn url_parts_keep_only_unreserved_characters() {
        assert_eq!(url_part("dev_1"), "dev_1");
        assert_eq!(url_part("../x?y=1&z"), "..%2Fx%3Fy%3D1%26z");
        assert_eq!(url_part("é"), "%C3%A9");
    }

    #[test]
    fn times_are_shown_in_utc_and_kept_machine_readable() {
        let t = time(&Value::from("2026-01-02T03:04:05.678Z"));
        assert!(t.contains(r#"datetime="2026-01-02T03:04:05.678Z""#));
        assert!(t.contains("2026-01-02 03:04:05 UTC"));
        assert!(time(&Value::Null).contains('—'));
    }
}
