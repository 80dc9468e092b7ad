//! The Signal protocol as WhatsApp uses it.
