// auth/providers: one config's auth providers, built from the compiled `auth` section; a reload
// takes over each provider whose config did not change (same fingerprint), with its verified-token
// cache and remote keys, and closes the rest once the new config runs.
import type { Middleware } from '../middleware/chain.js';
import { ApiKeyProvider } from './api-key-provider.js';
import { IntrospectionProvider } from './introspection-provider.js';
import { JwtProvider } from './jwt-provider.js';
import { createAuthMiddleware } from './middleware.js';
import type { AuthDeps, AuthProvider } from './provider.js';
import type { AuthProviderSpec, RouteAuthSpec } from './spec.js';

export class AuthProviders {
  private constructor(
    readonly providers: ReadonlyMap<string, AuthProvider>,
    private readonly deps: AuthDeps,
  ) {}

  static create(specs: ReadonlyMap<string, AuthProviderSpec>, deps: AuthDeps, previous: AuthProviders | null): AuthProviders {
    const providers = new Map<string, AuthProvider>();
    for (const [name, spec] of specs) {
      const old = previous?.providers.get(name);
      providers.set(name, old !== undefined && old.spec.fingerprint === spec.fingerprint ? old : createProvider(spec, deps));
    }
    return new AuthProviders(providers, deps);
  }

  /** The route's auth middleware; null without `auth`. Throws for an unknown provider (the config check reports it first). */
  middlewareFor(route: RouteAuthSpec | null): Middleware | null {
    if (route === null) return null;
    const provider = this.providers.get(route.use);
    if (provider === undefined) throw new Error(`auth.use: unknown auth provider "${route.use}"`);
    return createAuthMiddleware(provider, route, this.deps.clock);
  }

  /** Closes the providers `next` did not take over (all of them when next is null). */
  close(next: AuthProviders | null): void {
    const kept = new Set(next === null ? [] : next.providers.values());
    for (const p of this.providers.values()) if (!kept.has(p)) p.close();
  }
}

function createProvider(spec: AuthProviderSpec, deps: AuthDeps): AuthProvider {
  switch (spec.type) {
    case 'jwt':
      return new JwtProvider(spec, deps);
    case 'introspection':
      return new IntrospectionProvider(spec, deps);
    case 'apiKey':
      return new ApiKeyProvider(spec);
  }
}
