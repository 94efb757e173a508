// /spin/ loops forever: the request ends with 503 and a JSON body naming the limit it hit (the
// instruction budget, or with --max-instructions -1 the CPU budget, 50ms by default); its instance
// is recycled and the next request is served as usual.
export default {
  fetch(request) {
    if (new URL(request.url).searchParams.has("stop")) return new Response("not spinning");
    for (;;) {}
  },
};
