//! Task accuracy of real trained models with pruned weights: the g2p-en GRU
//! on CMUdict, and the silero-vad LSTM on a labelled clip. Each model takes
//! its weights as named matrices, so any pruning pattern can be swapped in.

pub mod data;
pub mod g2p;
pub mod silero;
