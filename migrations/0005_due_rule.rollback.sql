DROP FUNCTION personas.is_due(text, timestamptz, timestamptz, timestamptz, timestamptz);
