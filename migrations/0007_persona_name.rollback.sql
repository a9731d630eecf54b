ALTER TABLE personas.personas DROP COLUMN name;
