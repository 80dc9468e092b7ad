//! A local WhatsApp-protocol server with virtual phones, for tests and demos. Under construction: see docs/roadmap.md.
