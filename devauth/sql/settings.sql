-- name: settings^
SELECT require_email_verification AS "requireEmailVerification"
  FROM devauth.settings;

-- name: update_settings^
UPDATE devauth.settings
   SET require_email_verification = :require_email_verification
RETURNING require_email_verification AS "requireEmailVerification";
