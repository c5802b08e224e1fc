import type { Migration } from 'kysely';
import * as initial from './2026_11_22_000000_initial.js';
import * as refreshRotationAndAudit from './2026_11_22_010000_refresh_rotation_and_audit.js';
import * as mailOutboxAndEmailTokens from './2026_11_22_020000_mail_outbox_and_email_tokens.js';
import * as groupsServiceAccounts from './2026_11_22_030000_groups_service_accounts.js';
import * as auditActorIndex from './2026_11_23_000000_audit_actor_index.js';
import * as mfa from './2026_11_23_010000_mfa.js';
import * as oidcProvider from './2026_12_07_000000_oidc_provider.js';
import * as dynamicRegistration from './2026_12_07_010000_dynamic_registration.js';
import * as apiResources from './2026_12_07_020000_api_resources.js';
import * as revocationFeed from './2026_12_07_030000_revocation_feed.js';
import * as deviceAuthorizations from './2026_12_07_040000_device_authorizations.js';
import * as clientMetadataDocuments from './2026_12_07_060000_client_metadata_documents.js';
import * as revocationOrder from './2026_12_07_070000_revocation_order.js';
import * as passkeys from './2026_12_07_090000_passkeys.js';
import * as emailLinkSignin from './2026_12_07_091000_email_link_signin.js';
import * as mfaFirstStep from './2026_12_07_093000_mfa_first_step.js';

/**
 * Every migration, by name. Listed here rather than read from the folder so that the
 * compiled service finds them wherever it is installed; names sort in the order they run.
 */
export const migrations: Record<string, Migration> = {
  '2026_11_22_000000_initial': initial,
  '2026_11_22_010000_refresh_rotation_and_audit': refreshRotationAndAudit,
  '2026_11_22_020000_mail_outbox_and_email_tokens': mailOutboxAndEmailTokens,
  '2026_11_22_030000_groups_service_accounts': groupsServiceAccounts,
  '2026_11_23_000000_audit_actor_index': auditActorIndex,
  '2026_11_23_010000_mfa': mfa,
  '2026_12_07_000000_oidc_provider': oidcProvider,
  '2026_12_07_010000_dynamic_registration': dynamicRegistration,
  '2026_12_07_020000_api_resources': apiResources,
  '2026_12_07_030000_revocation_feed': revocationFeed,
  '2026_12_07_040000_device_authorizations': deviceAuthorizations,
  '2026_12_07_060000_client_metadata_documents': clientMetadataDocuments,
  '2026_12_07_070000_revocation_order': revocationOrder,
  '2026_12_07_090000_passkeys': passkeys,
  '2026_12_07_091000_email_link_signin': emailLinkSignin,
  '2026_12_07_093000_mfa_first_step': mfaFirstStep,
};
