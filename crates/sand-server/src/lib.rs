//! The composition root's library part: how the adapters are wired into the web
//! service's ports. `sand serve` composes the service with it, and so do the tests that
//! run the web service over a real store (`sand-http`'s HTTP suite), so that what they
//! test is wired as production wires it.

pub mod compose;
