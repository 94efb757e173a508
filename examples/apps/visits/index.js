// A folder with an index file is one app (/visits/). Needs a datastore: warden serve examples/apps --datastore memory:
export default {
  async fetch(request) {
    const page = new URL(request.url).pathname;
    const count = await datastore("visits").increment(page);
    return Response.json({ page, count });
  },
};
