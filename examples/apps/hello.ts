// `warden serve examples/apps` serves this file at /hello/. A Workers-style module in TypeScript.
interface Env {
  GREETING?: string;
}

export default {
  fetch(request: Request, env: Env): Response {
    const url = new URL(request.url); // the URL without the /hello prefix
    const name = url.searchParams.get("name") ?? "world";
    return Response.json({ message: `${env.GREETING ?? "hello"}, ${name}`, path: url.pathname });
  },
};
