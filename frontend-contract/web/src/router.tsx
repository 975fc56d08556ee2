// The portal's few pages by path, with the History API (no server round trip between pages).
import { type MouseEvent, type ReactNode, createContext, useContext, useEffect, useState } from "react";

export const PAGES = {
  catalogue: "/",
  apiKeys: "/keys",
  subscriptions: "/subscriptions",
  approvals: "/admin/requests",
  signIn: "/sign-in",
} as const;

export type Location = { path: string; search: URLSearchParams };

const current = (): Location => ({
  path: window.location.pathname,
  search: new URLSearchParams(window.location.search),
});

type Navigate = (to: string, options?: { replace?: boolean }) => void;

const RouterContext = createContext<{ location: Location; navigate: Navigate }>({
  location: current(),
  navigate: () => undefined,
});

export function Router({ children }: { children: ReactNode }) {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const onPop = () => setLocation(current());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate: Navigate = (to, options) => {
    if (options?.replace) window.history.replaceState(null, "", to);
    else window.history.pushState(null, "", to);
    setLocation(current());
    window.scrollTo(0, 0);
  };
  return <RouterContext.Provider value={{ location, navigate }}>{children}</RouterContext.Provider>;
}

export const useRouter = () => useContext(RouterContext);

/** The path and query of the page shown now: where to come back to after signing in. */
export function here(location: Location): string {
  const query = location.search.toString();
  return query ? `${location.path}?${query}` : location.path;
}

export function Link({ to, children, current: isCurrent }: { to: string; children: ReactNode; current?: boolean }) {
  const { navigate } = useRouter();
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} aria-current={isCurrent ? "page" : undefined}>
      {children}
    </a>
  );
}

/** Replaces the page shown (no history entry): for a page that sends the visitor elsewhere. */
export function Redirect({ to }: { to: string }) {
  const { navigate } = useRouter();
  useEffect(() => {
    navigate(to, { replace: true });
  }, [to]);
  return null;
}
