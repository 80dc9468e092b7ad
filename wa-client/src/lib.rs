//! The high-level async WhatsApp Web client. Under construction: see docs/roadmap.md.
