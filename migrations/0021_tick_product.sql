-- The product (its MCP serverInfo: name and version) a tick ran against, as its runner
-- reported it, so ratings and tool calls can be compared between product releases.
-- depends: 0020_one_daily_cost_rollup

ALTER TABLE personas.persona_ticks
    ADD COLUMN product_name text NULL CHECK (length(product_name) <= 200),
    ADD COLUMN product_version text NULL CHECK (length(product_version) <= 200);

-- The releases route groups ticks by version and reads one version's ticks at a time.
CREATE INDEX persona_ticks_product_version_idx
    ON personas.persona_ticks (product_version, started_at)
 WHERE product_version IS NOT NULL;
