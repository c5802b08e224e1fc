import { AppError } from '../../errors.js';
import { toEpochSeconds } from '../../lib/clock.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { ProfileService } from '../profile/profile.service.js';

/** The claims OIDC Core §5.1 defines that this provider releases, by scope. */
export interface UserInfo {
  sub: string;
  name?: string;
  picture?: string;
  locale?: string;
  zoneinfo?: string;
  updated_at?: number;
  email?: string;
  email_verified?: boolean;
  phone_number?: string;
}

export interface UserInfoServiceDeps {
  accounts: Pick<AccountsService, 'findUserView'>;
  profiles: Pick<ProfileService, 'getProfile'>;
}

/** OIDC Core §5.3: who the access token's user is, as much as its scopes release. */
export class UserInfoService {
  constructor(private readonly deps: UserInfoServiceDeps) {}

  async claimsFor(userId: string, scopes: readonly string[]): Promise<UserInfo> {
    const user = await this.deps.accounts.findUserView(userId);
    if (!user || !user.is_active) throw new AppError('unauthorized', 'The account is not active');
    const info: UserInfo = { sub: user.id };
    if (scopes.includes('email')) {
      info.email = user.email;
      info.email_verified = user.email_verified;
    }
    if (scopes.includes('profile') || scopes.includes('phone')) {
      const profile = await this.deps.profiles.getProfile(userId);
      if (scopes.includes('profile')) {
        // A claim without a value is left out rather than sent as null (OIDC Core §5.3.2).
        const name = profile.full_name ?? user.name;
        if (name) info.name = name;
        if (profile.avatar_url) info.picture = profile.avatar_url;
        if (profile.locale) info.locale = profile.locale;
        if (profile.timezone) info.zoneinfo = profile.timezone;
        info.updated_at = toEpochSeconds(
          new Date(Math.max(user.updated_at.getTime(), Date.parse(profile.updated_at ?? '') || 0)),
        );
      }
      if (scopes.includes('phone') && profile.phone) info.phone_number = profile.phone;
    }
    return info;
  }
}
