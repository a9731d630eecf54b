DROP INDEX personas.persona_ticks_product_version_idx;
ALTER TABLE personas.persona_ticks DROP COLUMN product_version, DROP COLUMN product_name;
