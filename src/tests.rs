//! `#[pg_test]`s: each SQL function, each conflict reason, each SQLSTATE.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn create_doc_returns_gen_1() {
        let g = Spi::get_one::<i64>("SELECT nodesync.create_doc('t1')").unwrap();
        assert_eq!(g, Some(1));
    }
}
