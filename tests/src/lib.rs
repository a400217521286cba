//! Helpers shared by the external-client tests.
