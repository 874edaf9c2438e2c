-- A next action may name the app that handles it and carry fallbacks (other hand-offs of the
-- same payment, best first: app link, web page, QR code). Both live in one JSON object,
-- {"app_identifier":...,"fallbacks":[...]}; '' when the action has neither, as every action
-- stored before this migration.
ALTER TABLE payments ADD COLUMN next_action_more TEXT NOT NULL DEFAULT '';
