DROP TABLE personas.alert_deliveries;
DROP TABLE personas.alert_messages;
DROP TABLE personas.alert_conditions;
DROP TABLE personas.webhooks;
