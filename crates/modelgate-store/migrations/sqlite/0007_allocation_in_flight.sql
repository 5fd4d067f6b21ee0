-- An optional bound on the requests an allocation has in flight at once, so that the
-- overspend possible from upstreams that ignore max_tokens stays bounded under load.
ALTER TABLE allocations ADD COLUMN max_in_flight INTEGER;
