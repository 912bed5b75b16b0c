//! Word lists for generated names (`adjective_surname`), in the spirit of Docker's.
//! All entries are lowercase ASCII letters, so every combination is a valid `Name`.

pub(super) const ADJECTIVES: &[&str] = &[
    "agile", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring", "eager",
    "fancy", "gentle", "happy", "jolly", "keen", "lively", "lucid", "merry", "nimble", "noble",
    "patient", "quiet", "rapid", "serene", "sharp", "steady", "sunny", "swift", "tender", "witty",
];

/// Scientists and engineers, as Docker's list.
pub(super) const SURNAMES: &[&str] = &[
    "babbage", "bardeen", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "faraday",
    "fermi", "feynman", "franklin", "galileo", "gauss", "hamilton", "hopper", "hypatia", "kepler",
    "knuth", "lamarr", "lovelace", "maxwell", "meitner", "newton", "noether", "pascal", "ritchie",
    "shannon", "tesla", "turing",
];
