//! Message ids and the typed content model.
