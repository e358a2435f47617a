//! silero-vad (filled in by the VAD evaluation work).
