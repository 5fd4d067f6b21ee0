-- Prompt-cache writes and reasoning tokens, priced at their own rates, kept on each usage
-- record (both are parts of input_tokens / output_tokens; older records have 0).
ALTER TABLE usage_records ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN reasoning_tokens BIGINT NOT NULL DEFAULT 0;
