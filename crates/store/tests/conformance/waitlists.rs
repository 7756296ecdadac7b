//! Waiting lists: joining a full event, promotion when seats free, offers that lapse, priority
//! classes. Reserved: waiting lists are still decided by the SQLite store itself, and the
//! in-memory store refuses them, so their tests join the suite (a topic here and a line in
//! `conformance_tests!`) once the engine decides them for every store.
