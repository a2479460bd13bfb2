const a: any = null;
console.log(a.x); // TypeError, uncaught
