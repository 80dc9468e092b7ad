//! The self-hosted REST gateway over wa-client. Under construction: see docs/roadmap.md.
