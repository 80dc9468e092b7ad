//! [`Jid`]: WhatsApp addresses (`user[_agent][:device]@server`) as a typed value.
//!
//! The textual grammar is Baileys' (`jidEncode`/`jidDecode`): an optional `_agent` after the
//! user, an optional `:device`, then `@server`; interop JIDs carry `integrator-` before the
//! user. On the wire a JID is `JID_PAIR` (no device) or `AD_JID` (with a device; its first byte
//! is the domain: 0 PN, 1 LID, 128 hosted, 129 hosted LID); the decoder also reads `FB_JID`
//! and `INTEROP_JID`. Nodes carry JIDs as text (as Baileys does); parse them with
//! [`str::parse`] or [`NodeRef::attr_jid`](super::NodeRef::attr_jid).

use std::fmt;
use std::str::FromStr;

/// A JID's server part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Server {
    /// `s.whatsapp.net`: phone-number users ("PN") and, with an empty user, the server itself.
    Pn,
    /// `c.us`: the legacy user server (PSA, official business accounts).
    LegacyUser,
    /// `g.us`: groups.
    Group,
    /// `broadcast`: status (`status@broadcast`) and broadcast lists.
    Broadcast,
    /// `lid`: hidden user ids.
    Lid,
    /// `newsletter`: channels.
    Newsletter,
    /// `hosted`: business-hosted PN devices.
    Hosted,
    /// `hosted.lid`: business-hosted LID devices.
    HostedLid,
    /// `msgr`: Messenger.
    Messenger,
    /// `interop`: interoperability users.
    Interop,
    /// `bot`: bots.
    Bot,
    /// `call`: call links.
    Call,
    /// Any other server string.
    Other(String),
}

impl Server {
    /// The server string.
    pub fn as_str(&self) -> &str {
        match self {
            Server::Pn => "s.whatsapp.net",
            Server::LegacyUser => "c.us",
            Server::Group => "g.us",
            Server::Broadcast => "broadcast",
            Server::Lid => "lid",
            Server::Newsletter => "newsletter",
            Server::Hosted => "hosted",
            Server::HostedLid => "hosted.lid",
            Server::Messenger => "msgr",
            Server::Interop => "interop",
            Server::Bot => "bot",
            Server::Call => "call",
            Server::Other(s) => s,
        }
    }

    /// Maps a server string to its variant (unknown strings become [`Server::Other`]).
    pub fn from_name(s: &str) -> Server {
        match s {
            "s.whatsapp.net" => Server::Pn,
            "c.us" => Server::LegacyUser,
            "g.us" => Server::Group,
            "broadcast" => Server::Broadcast,
            "lid" => Server::Lid,
            "newsletter" => Server::Newsletter,
            "hosted" => Server::Hosted,
            "hosted.lid" => Server::HostedLid,
            "msgr" => Server::Messenger,
            "interop" => Server::Interop,
            "bot" => Server::Bot,
            "call" => Server::Call,
            other => Server::Other(other.to_string()),
        }
    }

    /// The `AD_JID` domain byte of this server, if it has its own (LID 1, hosted 128,
    /// hosted LID 129); PN devices use the agent (normally 0).
    pub fn domain_type(&self) -> Option<u8> {
        match self {
            Server::Lid => Some(DOMAIN_LID),
            Server::Hosted => Some(DOMAIN_HOSTED),
            Server::HostedLid => Some(DOMAIN_HOSTED_LID),
            _ => None,
        }
    }

    /// The server an `AD_JID` domain byte stands for (anything unknown is `s.whatsapp.net`).
    pub fn from_domain_type(domain: u8) -> Server {
        match domain {
            DOMAIN_LID => Server::Lid,
            DOMAIN_HOSTED => Server::Hosted,
            DOMAIN_HOSTED_LID => Server::HostedLid,
            _ => Server::Pn,
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `AD_JID` domain byte of phone-number (WhatsApp) devices.
pub const DOMAIN_PN: u8 = 0;
/// `AD_JID` domain byte of LID devices.
pub const DOMAIN_LID: u8 = 1;
/// `AD_JID` domain byte of hosted PN devices.
pub const DOMAIN_HOSTED: u8 = 128;
/// `AD_JID` domain byte of hosted LID devices.
pub const DOMAIN_HOSTED_LID: u8 = 129;

/// Why a string is not a JID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JidError {
    /// No `@` and not a bare known server name.
    #[error("no '@' in {0:?}")]
    MissingAt(String),
    /// Nothing after the `@`.
    #[error("empty server")]
    EmptyServer,
    /// The server contains another `@`.
    #[error("server {0:?} contains '@'")]
    ServerHasAt(String),
    /// `:device` is not a number in `0..=65535`.
    #[error("invalid device {0:?}")]
    InvalidDevice(String),
    /// `_agent` is not a number in `0..=255`.
    #[error("invalid agent {0:?}")]
    InvalidAgent(String),
    /// `integrator-` of an interop JID is not a number in `0..=65535`.
    #[error("invalid integrator {0:?}")]
    InvalidIntegrator(String),
}

/// A WhatsApp address.
///
/// ```
/// use wa_core::{Jid, binary::Server};
/// let jid: Jid = "123456789:12@s.whatsapp.net".parse().unwrap();
/// assert_eq!(jid.user, "123456789");
/// assert_eq!(jid.device(), 12);
/// assert_eq!(jid.server, Server::Pn);
/// assert_eq!(jid.to_string(), "123456789:12@s.whatsapp.net");
/// assert_eq!(jid.to_non_ad(), Jid::pn("123456789"));
/// assert!(Jid::group("120363021033254949").is_group());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Jid {
    /// The user (phone number, LID, group id, …); empty for a server JID.
    pub user: String,
    /// Baileys' `_agent` (on the wire, the `AD_JID` domain byte of PN devices); 0 = none.
    pub agent: u8,
    /// The device, when the JID names one (`Some(0)` is the primary device, written `:0`).
    pub device_id: Option<u16>,
    /// The integrator of an interop JID (`integrator-user…@interop`).
    pub integrator: Option<u16>,
    /// The server.
    pub server: Server,
}

impl Jid {
    /// `user@server`.
    pub fn new(user: impl Into<String>, server: Server) -> Jid {
        Jid {
            user: user.into(),
            agent: 0,
            device_id: None,
            integrator: None,
            server,
        }
    }

    /// A phone-number user: `user@s.whatsapp.net`.
    pub fn pn(user: impl Into<String>) -> Jid {
        Jid::new(user, Server::Pn)
    }

    /// A LID user: `user@lid`.
    pub fn lid(user: impl Into<String>) -> Jid {
        Jid::new(user, Server::Lid)
    }

    /// A group: `id@g.us`.
    pub fn group(id: impl Into<String>) -> Jid {
        Jid::new(id, Server::Group)
    }

    /// A server address (empty user), e.g. `@s.whatsapp.net`, the `to` of most IQs.
    pub fn server(server: Server) -> Jid {
        Jid::new("", server)
    }

    /// A device of a phone-number user: `user:device@s.whatsapp.net`.
    pub fn pn_device(user: impl Into<String>, device: u16) -> Jid {
        Jid::pn(user).with_device(device)
    }

    /// `status@broadcast`.
    pub fn status_broadcast() -> Jid {
        Jid::new("status", Server::Broadcast)
    }

    /// The same JID naming `device`.
    pub fn with_device(mut self, device: u16) -> Jid {
        self.device_id = Some(device);
        self
    }

    /// The same JID with Baileys' `_agent`.
    pub fn with_agent(mut self, agent: u8) -> Jid {
        self.agent = agent;
        self
    }

    /// The device number (0 when none is named).
    pub fn device(&self) -> u16 {
        self.device_id.unwrap_or(0)
    }

    /// The user JID without agent and device (`user@server`).
    pub fn to_non_ad(&self) -> Jid {
        Jid {
            user: self.user.clone(),
            agent: 0,
            device_id: None,
            integrator: self.integrator,
            server: self.server.clone(),
        }
    }

    /// The `AD_JID` domain byte this JID is written with.
    pub fn domain_type(&self) -> u8 {
        self.server.domain_type().unwrap_or(self.agent)
    }

    /// Whether it is a group.
    pub fn is_group(&self) -> bool {
        self.server == Server::Group
    }

    /// Whether it is a phone-number user (or device).
    pub fn is_pn(&self) -> bool {
        self.server == Server::Pn && !self.user.is_empty()
    }

    /// Whether it is a LID user (or device).
    pub fn is_lid(&self) -> bool {
        self.server == Server::Lid
    }

    /// Whether it is a hosted (business) PN or LID address.
    pub fn is_hosted(&self) -> bool {
        matches!(self.server, Server::Hosted | Server::HostedLid)
    }

    /// Whether it is a broadcast address (status or a broadcast list).
    pub fn is_broadcast(&self) -> bool {
        self.server == Server::Broadcast
    }

    /// Whether it is `status@broadcast`.
    pub fn is_status_broadcast(&self) -> bool {
        self.server == Server::Broadcast && self.user == "status"
    }

    /// Whether it is a channel.
    pub fn is_newsletter(&self) -> bool {
        self.server == Server::Newsletter
    }

    /// Whether it is a bot.
    pub fn is_bot(&self) -> bool {
        self.server == Server::Bot
    }

    /// Whether it is a server address (empty user).
    pub fn is_server(&self) -> bool {
        self.user.is_empty()
    }

    /// Whether it names a device (`:device` present).
    pub fn has_device(&self) -> bool {
        self.device_id.is_some()
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.integrator {
            write!(f, "{i}-")?;
        }
        f.write_str(&self.user)?;
        if self.agent != 0 {
            write!(f, "_{}", self.agent)?;
        }
        if let Some(d) = self.device_id {
            write!(f, ":{d}")?;
        }
        write!(f, "@{}", self.server)
    }
}

impl FromStr for Jid {
    type Err = JidError;

    fn from_str(s: &str) -> Result<Jid, JidError> {
        let Some((left, server)) = s.split_once('@') else {
            return match Server::from_name(s) {
                Server::Other(_) => Err(JidError::MissingAt(s.to_string())),
                server => Ok(Jid::server(server)),
            };
        };
        if server.is_empty() {
            return Err(JidError::EmptyServer);
        }
        if server.contains('@') {
            return Err(JidError::ServerHasAt(server.to_string()));
        }
        let server = Server::from_name(server);
        let (user_agent, device_id) = match left.split_once(':') {
            Some((ua, d)) => {
                let d = d
                    .parse::<u16>()
                    .map_err(|_| JidError::InvalidDevice(d.to_string()))?;
                (ua, Some(d))
            }
            None => (left, None),
        };
        let (user, agent) = match user_agent.split_once('_') {
            Some((u, a)) => {
                let a = a
                    .parse::<u8>()
                    .map_err(|_| JidError::InvalidAgent(a.to_string()))?;
                (u, a)
            }
            None => (user_agent, 0),
        };
        let (integrator, user) = match (&server, user.split_once('-')) {
            (Server::Interop, Some((i, u))) => {
                let i = i
                    .parse::<u16>()
                    .map_err(|_| JidError::InvalidIntegrator(i.to_string()))?;
                (Some(i), u)
            }
            _ => (None, user),
        };
        Ok(Jid {
            user: user.to_string(),
            agent,
            device_id,
            integrator,
            server,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) -> Jid {
        let j: Jid = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(j.to_string(), s);
        j
    }

    #[test]
    fn every_server_parses_and_prints_back() {
        for s in [
            "123@s.whatsapp.net",
            "0@c.us",
            "120363021033254949@g.us",
            "status@broadcast",
            "98765@lid",
            "120363144038483540@newsletter",
            "1@hosted",
            "1@hosted.lid",
            "100000@msgr",
            "7-100:3@interop",
            "13135550002@bot",
            "abc@call",
            "x@example",
        ] {
            round_trip(s);
        }
    }

    #[test]
    fn device_and_agent_are_parsed() {
        let j = round_trip("123_1:12@s.whatsapp.net");
        assert_eq!((j.agent, j.device_id), (1, Some(12)));
        assert_eq!(j.domain_type(), 1);
        let primary = round_trip("123:0@s.whatsapp.net");
        assert!(primary.has_device());
        assert_eq!(primary.device(), 0);
    }

    #[test]
    fn server_jids_have_empty_users() {
        assert!(round_trip("@s.whatsapp.net").is_server());
        assert_eq!("g.us".parse::<Jid>().unwrap(), Jid::server(Server::Group));
    }

    #[test]
    fn predicates_follow_the_server() {
        assert!(Jid::status_broadcast().is_status_broadcast());
        assert!(Jid::lid("1").with_device(2).is_lid());
        assert!(Jid::new("1", Server::HostedLid).is_hosted());
        assert_eq!(
            Jid::new("1", Server::HostedLid).domain_type(),
            DOMAIN_HOSTED_LID
        );
        assert!(Jid::pn("1").is_pn() && !Jid::server(Server::Pn).is_pn());
    }

    #[test]
    fn malformed_jids_are_typed_errors() {
        assert_eq!("abc".parse::<Jid>(), Err(JidError::MissingAt("abc".into())));
        assert_eq!("abc@".parse::<Jid>(), Err(JidError::EmptyServer));
        assert!(matches!(
            "a:x@lid".parse::<Jid>(),
            Err(JidError::InvalidDevice(_))
        ));
        assert!(matches!(
            "a:70000@lid".parse::<Jid>(),
            Err(JidError::InvalidDevice(_))
        ));
        assert!(matches!(
            "a_b@lid".parse::<Jid>(),
            Err(JidError::InvalidAgent(_))
        ));
        assert!(matches!(
            "a@b@c".parse::<Jid>(),
            Err(JidError::ServerHasAt(_))
        ));
        assert!(matches!(
            "x-1@interop".parse::<Jid>(),
            Err(JidError::InvalidIntegrator(_))
        ));
    }

    #[test]
    fn domain_bytes_map_to_servers() {
        assert_eq!(Server::from_domain_type(0), Server::Pn);
        assert_eq!(Server::from_domain_type(1), Server::Lid);
        assert_eq!(Server::from_domain_type(128), Server::Hosted);
        assert_eq!(Server::from_domain_type(129), Server::HostedLid);
        assert_eq!(Server::from_domain_type(7), Server::Pn);
    }
}
