// PostGraphile 5 targets Node 22 (package.json "engines"); Node 20 lacks Promise.withResolvers,
// which grafast and grafserv call. Preload with `node -r ./polyfill.cjs server.mjs`.
if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
