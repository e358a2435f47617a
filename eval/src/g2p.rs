//! g2p-en GRU (filled in by the g2p evaluation work).
