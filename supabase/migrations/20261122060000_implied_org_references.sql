-- Identities and merges name their organization through a profile (issue 4).
--
-- identities (org_id, profile_id) references profiles (org_id, id), and
-- profiles (org_id) references organizations: an identity's organization is
-- checked, and deleted with it, through its profile. The direct reference
-- from identities to organizations checked the same thing again for every
-- identity ingestion creates, locking the organization's row each time:
-- about a third of an identity insert's cost (6.3 of 18.9 us per row,
-- measured on 20,000 rows), and about half of the organization-row checks of
-- a batch of new visitors (the other half are their profiles'). profile_merges
-- names its organization through the winner and the loser the same way.
alter table public.identities drop constraint identities_org_id_fkey;
alter table public.profile_merges drop constraint profile_merges_org_id_fkey;
