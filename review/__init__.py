"""Review: decisions on shots (approve, reject, reroll), the review pages and the media server.
The page takes the function that sends a decision to a waiting run; it imports no flow."""
