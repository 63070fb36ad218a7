-- Removes what deleted organizations still own, 10,000 rows a minute at most.
select cron.schedule('meridian-purge-deleted-organizations', '* * * * *',
                     'select private.purge_deleted_organizations()');
