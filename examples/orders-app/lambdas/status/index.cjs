// GET /status: an open route, CommonJS, in a nested folder of its asset.
exports.handler = async () => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ status: 'ok' }),
});
