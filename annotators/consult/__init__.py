"""Consultation audio: transcripts with word timestamps, speakers, segment labels and PHI, over the media core."""
