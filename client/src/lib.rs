//! pg_nodesync client library (see issue: client library).
