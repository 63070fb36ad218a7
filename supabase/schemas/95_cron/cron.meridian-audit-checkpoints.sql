-- Daily: the audit chain's head to the organizations subscribed to audit.checkpoint.
select cron.schedule('meridian-audit-checkpoints', '7 0 * * *',
                     'select private.emit_audit_checkpoints()');
