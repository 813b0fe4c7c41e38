import time, sys, json, numpy as np, scipy.sparse as sp, warnings
warnings.filterwarnings("ignore")
import gpulearn, gpulearn.linear_model as gll, gpulearn.decomposition as gld, gpulearn.cluster as glc, gpulearn.neighbors as gln
import sklearn.linear_model as skl, sklearn.decomposition as skd, sklearn.cluster as skc, sklearn.neighbors as skn
rng=np.random.default_rng(0)
Xs=sp.random(10000,20000,density=1e-3,format='csr',random_state=0,dtype=np.float64)
Xst=sp.random(20000,20000,density=1e-3,format='csr',random_state=1,dtype=np.float64)
ys=rng.standard_normal(20000); ysc=(ys>0).astype(int)
Xd=rng.standard_normal((20000,100)); yd=rng.standard_normal(20000)
X32=rng.standard_normal((20000,20)).astype(np.float32)
cases=[("sparse Ridge.predict",skl.Ridge(),gll.Ridge(),Xst,ys,"predict",Xs),
 ("sparse Lasso.predict",skl.Lasso(alpha=1e-3),gll.Lasso(alpha=1e-3),Xst,ys,"predict",Xs),
 ("sparse LogReg.predict",skl.LogisticRegression(),gll.LogisticRegression(),Xst,ysc,"predict",Xs),
 ("sparse TSVD.transform",skd.TruncatedSVD(10,random_state=0),gld.TruncatedSVD(10,random_state=0),Xst,None,"transform",Xs),
 ("sparse PCA.transform",skd.PCA(10,svd_solver='arpack',random_state=0),gld.PCA(10,svd_solver='arpack',random_state=0),Xst,None,"transform",Xs),
 ("sparse KMeans.predict",skc.KMeans(10,n_init=1,random_state=0),glc.KMeans(10,n_init=1,random_state=0),Xst[:5000],None,"predict",Xs),
 ("Ridge.predict 20k x 100",skl.Ridge(),gll.Ridge(),Xd,yd,"predict",Xd),
 ("Ridge.predict 100 rows",skl.Ridge(),gll.Ridge(),Xd,yd,"predict",Xd[:100]),
 ("PCA.transform 100 rows",skd.PCA(10),gld.PCA(10),Xd,None,"transform",Xd[:100]),
 ("PCA.transform 20k x 100",skd.PCA(10),gld.PCA(10),Xd,None,"transform",Xd),
 ("KMeans.predict 20k x 20 f32",skc.KMeans(8,n_init=1,random_state=0),glc.KMeans(8,n_init=1,random_state=0),X32,None,"predict",X32),
 ("KMeans.predict 100 rows f32",skc.KMeans(8,n_init=1,random_state=0),glc.KMeans(8,n_init=1,random_state=0),X32,None,"predict",X32[:100]),
]
out={}
for name,sk,gl,Xf,yf,meth,Xp in cases:
    sk.fit(Xf,yf); gl.fit(Xf,yf)
    fa=lambda: getattr(sk,meth)(Xp); fb=lambda: getattr(gl,meth)(Xp)
    fa(); fb(); ta=[]; tb=[]
    if len(sys.argv) > 2 and sys.argv[2] == "blocked":  # 200 scikit-learn calls, then 200 ours
        for f, ts in ((fa, ta), (fb, tb)):
            time.sleep(0.3)  # the other library's worker threads park
            for _ in range(200):
                s0=time.perf_counter(); f(); ts.append(time.perf_counter()-s0)
    else:  # alternating: each library's calls right after the other's
        for _ in range(200):
            s0=time.perf_counter(); fa(); s1=time.perf_counter(); fb(); s2=time.perf_counter()
            ta.append(s1-s0); tb.append(s2-s1)
    out[name]=(np.median(ta)*1e3, np.median(tb)*1e3)
json.dump(out,open(sys.argv[1],'w'))
