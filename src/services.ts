import { AccountDeletionService } from './features/accounts/account-deletion.service.js';
import { AccountsService } from './features/accounts/accounts.service.js';
import { AdminUsersService } from './features/admin/admin-users.service.js';
import { AuditService } from './features/audit/audit.service.js';
import { EmailLinkService } from './features/email-link/email-link.service.js';
import { EmailTokensService } from './features/email-tokens/email-tokens.service.js';
import { EmailVerificationService } from './features/email-verification/email-verification.service.js';
import { GroupsService } from './features/groups/groups.service.js';
import type { MailService } from './features/mail/mail.service.js';
import { createFactors } from './features/mfa/factors.js';
import { MfaChallenges } from './features/mfa/mfa-challenges.js';
import { MfaService } from './features/mfa/mfa.service.js';
import { PasskeyCeremonies } from './features/passkeys/passkey-ceremonies.js';
import { PasskeysService } from './features/passkeys/passkeys.service.js';
import { OidcTokenSigner } from './features/oidc/client-token-signer.js';
import { CodeExchangeService } from './features/oidc/code-exchange.service.js';
import { TokenExchangeService } from './features/oidc/token-exchange.service.js';
import { ConsentsService } from './features/oauth-clients/consents.service.js';
import { OAuthClientsService } from './features/oauth-clients/oauth-clients.service.js';
import { AuthorizeService } from './features/oidc/authorize.service.js';
import { EndSessionService } from './features/oidc/end-session.service.js';
import { HostedSignInService } from './features/oidc/hosted-signin.service.js';
import { DeviceService } from './features/oidc/device.service.js';
import { PasswordService } from './features/password/password.service.js';
import { ProfileService } from './features/profile/profile.service.js';
import { FailureCounter } from './features/rate-limit/counted-attempt.js';
import type { RateLimits } from './features/rate-limit/rate-limits.js';
import { ResourcesService } from './features/resources/resources.service.js';
import { RolesService } from './features/roles/roles.service.js';
import { ServiceAccountsService } from './features/service-accounts/service-accounts.service.js';
import { RefreshService } from './features/sessions/refresh.service.js';
import { SessionsService } from './features/sessions/sessions.service.js';
import { SignInService } from './features/sessions/signin.service.js';
import { UserImportService } from './features/user-import/user-import.service.js';
import type { Infrastructure } from './infrastructure.js';
import { PeriodicJob } from './lib/periodic-job.js';

const HOUSEKEEPING_INTERVAL_MS = 3_600_000;

export interface Services {
  accounts: AccountsService;
  sessions: SessionsService;
  signIn: SignInService;
  refresh: RefreshService;
  audit: AuditService;
  mail: MailService;
  emailVerification: EmailVerificationService;
  password: PasswordService;
  emailLink: EmailLinkService;
  accountDeletion: AccountDeletionService;
  serviceAccounts: ServiceAccountsService;
  limits: RateLimits;
  adminUsers: AdminUsersService;
  roles: RolesService;
  groups: GroupsService;
  userImport: UserImportService;
  mfa: MfaService;
  /** WebAuthn: registration and sign-in with passkeys (also a second factor, through MFA). */
  passkeys: PasskeysService;
  profiles: ProfileService;
  clientTokens: OidcTokenSigner;
  codes: CodeExchangeService;
  tokenExchange: TokenExchangeService;
  oauthClients: OAuthClientsService;
  consents: ConsentsService;
  authorize: AuthorizeService;
  hostedSignIn: HostedSignInService;
  /** RFC 8628 device authorization: /oauth/device_authorization, /device, the device_code grant. */
  devices: DeviceService;
  endSession: EndSessionService;
  /** Hourly: expired authorization requests, codes and device authorizations are deleted. */
  oidcHousekeeping: PeriodicJob;
  resources: ResourcesService;
}

/**
 * Builds every feature's service on the infrastructure, in dependency order. Nothing here
 * opens a connection or starts background work: that is the infrastructure's and the
 * composition root's (deps.ts).
 */
export function createServices(infra: Infrastructure): Services {
  const { config, clock, db, hasher, tokens, metrics, limits, guard, userViews, mail } = infra;
  const onError = infra.onBackgroundError;
  const audit = new AuditService({
    db,
    clock,
    retention: config.auditRetention,
    onBackgroundError: onError,
  });
  const profiles = new ProfileService({ db, clock });
  const accounts = new AccountsService({ db, clock, hasher, config, audit, profiles, userViews });
  const failures = new FailureCounter(limits);
  const sessions = new SessionsService({ db, clock, audit, guard, config });
  // The ceremonies need nothing of sign-in or MFA: both the passkeys feature and the MFA
  // registry's passkey factor are built on them.
  const passkeyCeremonies = new PasskeyCeremonies({ db, clock, config, audit });
  const factors = createFactors({ db, clock, passkeys: passkeyCeremonies });
  // MFA depends on sign-in, not the other way round: sign-in only sees this port.
  const secondFactor = new MfaChallenges({ db, clock, factors: factors.all });
  const signIn = new SignInService({
    db,
    clock,
    tokens,
    accounts,
    audit,
    mail,
    failures,
    secondFactor,
    metrics,
    config,
  });
  // A client grant's tokens are signed by the OIDC feature; refresh sees only this port.
  const resources = new ResourcesService({ db, clock, audit });
  const clientTokens = new OidcTokenSigner({
    tokens,
    idTokens: infra.idTokens,
    signIn,
    resources,
    config,
  });
  const refresh = new RefreshService({
    db,
    clock,
    accounts,
    audit,
    guard,
    signIn,
    clientTokens,
    config,
  });
  const codes = new CodeExchangeService({
    db,
    clock,
    accounts,
    sessions,
    audit,
    signer: clientTokens,
    config,
    metrics,
  });
  const tokenExchange = new TokenExchangeService({
    clock,
    tokens,
    sessions,
    resources,
    audit,
    config,
    metrics,
  });
  const emailTokens = new EmailTokensService({ db, clock, publicUrl: config.publicUrl });
  const emailVerification = new EmailVerificationService({
    db,
    accounts,
    emailTokens,
    mail,
    audit,
    limits,
  });
  if (config.emailVerificationRequired) {
    // The verification mail commits with the new account, so no sign-up is left without one.
    accounts.onAccountCreated(async (trx, user) => {
      if (!user.email_verified) await emailVerification.sendWithin(trx, user);
    });
  }
  const password = new PasswordService({
    db,
    clock,
    accounts,
    sessions,
    emailTokens,
    mail,
    audit,
    limits,
    failures,
    onBackgroundError: onError,
  });
  const emailLink = new EmailLinkService({
    db,
    accounts,
    signIn,
    secondFactor,
    emailTokens,
    mail,
    audit,
    limits,
    onBackgroundError: onError,
  });
  const accountDeletion = new AccountDeletionService({
    db,
    accounts,
    sessions,
    audit,
    mail,
    failures,
  });
  const serviceAccounts = new ServiceAccountsService({
    db,
    clock,
    audit,
    tokens,
    tokenTtl: config.serviceTokenTtl,
  });
  const roles = new RolesService({ db, clock, audit, accounts });
  const mfa = new MfaService({ db, clock, accounts, signIn, audit, failures, factors });
  // MFA keeps users.mfa_enabled in step when a passkey comes or goes (PasskeyMfaPort).
  const passkeys = new PasskeysService({
    db,
    clock,
    ceremonies: passkeyCeremonies,
    accounts,
    audit,
    failures,
    signIn,
    mfa,
  });
  const adminUsers = new AdminUsersService({
    db,
    clock,
    accounts,
    sessions,
    audit,
    accountDeletion,
    roles,
    mfa,
    passkeys,
  });
  const groups = new GroupsService({ db, clock, audit, accounts, roles, adminUsers });
  const userImport = new UserImportService({ db, clock, audit, roles, hasher, accounts });
  const oauthClients = new OAuthClientsService({
    db,
    clock,
    audit,
    sessions,
    resources,
    metadataDocuments: { enabled: config.oauthCimd, fetcher: infra.outbound },
  });
  const consents = new ConsentsService({ db, clock, audit, sessions });
  const authorize = new AuthorizeService({
    db,
    clock,
    clients: oauthClients,
    consents,
    resources,
    sessions,
    accounts,
    idTokens: infra.idTokens,
    audit,
    config,
    metrics,
    limits,
  });
  const hostedSignIn = new HostedSignInService({ signIn, mfa, passkeys, sessions, authorize });
  const devices = new DeviceService({
    db,
    clock,
    clients: oauthClients,
    consents,
    resources,
    sessions,
    accounts,
    audit,
    signer: clientTokens,
    limits,
    config,
    metrics,
  });
  const oidcHousekeeping = new PeriodicJob(
    async () => {
      await authorize.sweepExpired();
      await devices.sweepExpired();
      await oauthClients.sweepUnusedSelfRegisteredClients();
      await passkeys.sweepExpired();
    },
    HOUSEKEEPING_INTERVAL_MS,
    onError,
  );
  const endSession = new EndSessionService({
    clients: oauthClients,
    idTokens: infra.idTokens,
    sessions,
  });
  return {
    accounts,
    sessions,
    signIn,
    refresh,
    audit,
    mail,
    emailVerification,
    password,
    emailLink,
    accountDeletion,
    serviceAccounts,
    limits,
    adminUsers,
    roles,
    groups,
    userImport,
    mfa,
    passkeys,
    profiles,
    clientTokens,
    codes,
    tokenExchange,
    oauthClients,
    consents,
    authorize,
    hostedSignIn,
    devices,
    endSession,
    oidcHousekeeping,
    resources,
  };
}
